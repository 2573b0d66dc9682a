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


def test_translate_a_folder_of_odd_sizes_keeps_names_and_sizes(trained, tmp_path):
  folder = tmp_path / "edges"
  folder.mkdir()
  rng = np.random.RandomState(3)
  sizes = {"a.png": (17, 23), "b.png": (9, 40)}  # Neither a multiple of the U-Net's 16.
  for name, (h, w) in sizes.items():
    Image.fromarray((rng.rand(h, w) * 255).astype(np.uint8)).save(folder / name)
  (folder / "notes.txt").write_text("not an image")
  out = tmp_path / "digits"
  assert cli.main(["translate", "--workdir", trained, "--input", str(folder), "--out", str(out), "--crf"]) == 0
  assert sorted(os.listdir(out)) == ["a.png", "b.png"]
  for name, (h, w) in sizes.items():
    assert Image.open(out / name).size == (w, h)
  # An odd size is reflect-padded to the U-Net's multiple (32x32 here) and cropped back:
  # the output is the top-left corner of the padded image's translation.
  run = inference.load(trained)
  image = np.asarray(Image.open(folder / "a.png"))[..., None]
  got = inference.pix2pix.translate(run, image, mode="running")
  padded = np.pad(image, ((0, 15), (0, 9), (0, 0)), mode="reflect")
  np.testing.assert_array_equal(got, inference.pix2pix.translate(run, padded, mode="running")[:17, :23])


def test_baselines_table_scores_runs_identity_and_cyclegan_on_the_same_pairs(trained, tmp_path):
  import jax
  from aigc_jax.evaluation import baselines
  from aigc_jax.train import cyclegan
  data = _config().data
  results = baselines.score_translators([trained, trained], data, num_samples=12, fid=True)
  assert results[0] == results[1] and results[0]["step"] == 4  # Same run, same pairs, same key.
  assert {"l1", "psnr", "ssim", "psnr_near_edges", "ssim_near_edges", "digits_fid"} <= set(results[0])
  identity = baselines.score_identity(data, num_samples=12, fid=True)
  assert identity["l1"] != results[0]["l1"]
  summary = baselines.summary(results)
  assert summary["psnr"] == (pytest.approx(results[0]["psnr"]), 0.0, 2)
  table = baselines.markdown({"pix2pix": summary, baselines.IDENTITY: baselines.summary([identity])})
  assert table.count("\n") == 3 and "| pix2pix | 2 |" in table and "±" in table
  # A CycleGAN run translates RGB; its outputs come back with the target's one channel.
  opts = cyclegan.parse(_config("pix2pix_digits_cyclegan:smoke"))
  run = inference.Run("unused", opts.config, opts, cyclegan.TASK, cyclegan.init_state(opts, jax.random.key(0)))
  inputs = np.zeros((3, 16, 16, 1), np.uint8)
  out = baselines.translations(run, inputs, 1)
  assert out.shape == (3, 16, 16, 1) and out.dtype == np.uint8


def test_export_unpaired_writes_the_pairs_as_domains(tmp_path):
  from aigc_jax.data import paired
  from aigc_jax.evaluation import baselines
  data = _config().data
  counts = baselines.export_unpaired(data, str(tmp_path))
  test = paired.test_pairs(data)
  assert counts["testA"] == counts["testB"] == len(test["input"]) and counts["trainA"] > counts["testA"]
  np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "testB" / "000000.png")), test["target"][0, ..., 0])
  np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "testA" / "000005.png")), test["input"][5, ..., 0])
