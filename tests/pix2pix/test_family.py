"""The pix2pix family end to end on tiny settings: train, resume, translate any size,
evaluate, test modes, the CRF as a last layer and after the fact."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from aigc_jax import configlib, inference
from aigc_jax.cli import main as cli
from aigc_jax.train import loop, pix2pix


def _config(spec="pix2pix_digits:smoke", **overrides):
  config = configlib.load_config(spec)
  configlib.apply_overrides(config, [f"--config.{k}={v}" for k, v in overrides.items()])
  return config


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("pix2pix") / "run")
  loop.train_and_evaluate(_config(), workdir, progress=False)
  return workdir


def test_trains_and_logs_the_recipe_terms(trained):
  records = [json.loads(line) for line in open(os.path.join(trained, "metrics.jsonl"))]
  assert [r["step"] for r in records] == [2, 4]
  assert {"g_loss", "g_gan", "l1", "d_loss", "lr"} <= set(records[-1])
  assert all(np.isfinite(v) for r in records for v in r.values())
  # Constant for the first half (2 steps), then linear decay: step 3's rate is below 2e-4.
  assert records[0]["lr"] == pytest.approx(2e-4) and records[1]["lr"] < 2e-4
  assert os.path.exists(os.path.join(trained, "samples", "step_0000004.png"))


def test_the_l1_only_baseline_ignores_the_discriminator():
  opts = pix2pix.parse(_config("pix2pix_digits:smoke+l1"))
  assert opts.gan_weight == 0.0 and opts.lambda_l1 == 100.0


def test_translate_keeps_any_size_and_checks_the_run(trained, tmp_path, capsys):
  Image.fromarray((np.random.RandomState(0).rand(21, 30) * 255).astype(np.uint8)).save(tmp_path / "a.png")
  out = tmp_path / "out.png"
  assert cli.main(["translate", "--workdir", trained, "--input", str(tmp_path / "a.png"), "--out", str(out)]) == 0
  assert Image.open(out).size == (30, 21)
  assert cli.main(["translate", "--workdir", trained, "--input", str(tmp_path / "a.png"), "--out", str(out),
                   "--direction", "BtoA"]) == 2
  assert "--direction is for CycleGAN runs" in capsys.readouterr().err


def test_crf_after_the_fact_changes_the_output_and_lam_zero_does_not(trained, tmp_path):
  from aigc_jax import crf
  run = inference.load(trained)
  image = (np.random.RandomState(1).rand(16, 16) * 255).astype(np.uint8)[..., None]
  plain = inference.pix2pix.translate(run, image, mode="running")
  refined = inference.pix2pix.translate(run, image, mode="running", crf=crf.CRFOptions(lam=4.0, learnable=False))
  same = inference.pix2pix.translate(run, image, mode="running", crf=crf.CRFOptions(lam=0.0, learnable=False))
  assert plain.shape == refined.shape == (16, 16, 1)
  assert not np.array_equal(plain, refined)
  assert np.abs(plain.astype(int) - same.astype(int)).max() <= 1


def test_eval_reports_the_contract_keys_and_the_identity(trained, capsys):
  assert cli.main(["eval", "--workdir", trained, "--num-samples", "12"]) == 0
  result = json.loads(capsys.readouterr().out)
  assert {"l1", "psnr", "ssim", "l1_identity", "psnr_near_edges"} <= set(result)
  assert result["num_pairs"] == 12 and result["test_mode"] == "paper"


def test_test_modes_differ_only_where_they_should(trained):
  run = inference.load(trained)
  image = (np.random.RandomState(2).rand(16, 16) * 255).astype(np.uint8)[..., None]
  running = [inference.pix2pix.translate(run, image, mode="running", seed=s) for s in (0, 1)]
  paper = [inference.pix2pix.translate(run, image, mode="paper", seed=s) for s in (0, 1)]
  np.testing.assert_array_equal(*running)  # Deterministic: no dropout, running statistics.
  assert not np.array_equal(*paper)  # Dropout on: the seed matters.


def test_the_crf_layer_trains_end_to_end(tmp_path):
  state = loop.train_and_evaluate(_config("pix2pix_digits:smoke+crf", num_steps=2), str(tmp_path / "crf"),
                                  progress=False)
  assert set(state.g_params["crf"]) == {"raw_lam", "raw_theta_a", "raw_theta_b"}
