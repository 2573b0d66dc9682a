"""End to end through `aigc`: train, sample, eval on tiny settings, and the error paths."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from aigc_jax.cli.main import main

SMOKE = ["--config", "dcgan_digits:smoke"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("run"))
  assert main(["train", *SMOKE, "--workdir", workdir, "--config.num_steps=4"]) == 0
  return workdir


def test_train_writes_the_workdir(trained):
  with open(os.path.join(trained, "config.json")) as f:
    assert json.load(f)["num_steps"] == 4
  with open(os.path.join(trained, "metrics.jsonl")) as f:
    records = [json.loads(line) for line in f]
  assert [r["step"] for r in records] == [2, 4]
  assert {"d_loss", "g_loss"} <= set(records[0])
  assert os.path.exists(os.path.join(trained, "samples", "step_0000004.png"))


def test_sample_writes_a_grid(trained, tmp_path, capsys):
  out = str(tmp_path / "grid.png")
  assert main(["sample", "--workdir", trained, "--num", "9", "--out", out]) == 0
  image = np.asarray(Image.open(out))
  # 3x3 grid of 16x16 images with 2-pixel padding, upscaled 4x for visibility.
  assert image.shape[:2] == ((3 * 18 + 2) * 4, (3 * 18 + 2) * 4)


def test_eval_prints_one_json_object_with_digits_metrics(trained, capsys):
  assert main(["eval", "--workdir", trained, "--num-samples", "200"]) == 0
  result = json.loads(capsys.readouterr().out.strip())
  assert result["num_samples"] == 200
  assert 1.0 <= result["digits_is"] <= 10.0
  assert result["digits_fid"] > result["real_digits_fid"] >= 0
  assert result["real_digits_is"] > 8.0


def _error(capsys, argv):
  code = main(argv)
  err = capsys.readouterr().err.strip()
  return code, err


def test_eval_seed_defaults_to_zero(trained, capsys):
  results = []
  for extra in ([], ["--seed", "0"], ["--seed", "1"]):
    assert main(["eval", "--workdir", trained, "--num-samples", "10", *extra]) == 0
    results.append(json.loads(capsys.readouterr().out.strip()))
  assert results[0] == results[1]
  assert results[0]["digits_fid"] != results[2]["digits_fid"]  # The seed picks what is generated.


@pytest.mark.parametrize("argv,message", [
    (["train", *SMOKE, "--config.no_such_key=1"], "unknown config key 'no_such_key'"),
    (["train", *SMOKE, "--config.model.nope=1"], "unknown config key 'model.nope'"),
    (["train", *SMOKE, "--config.num_steps=abc"], "config key 'num_steps' takes a int"),
    (["train", "--config", "configs/missing.py"], "config file not found"),
    (["train", "--config", "no_such_config"], "unknown config 'no_such_config'"),
    (["train", *SMOKE, "positional"], "unrecognized argument 'positional'"),
])
def test_bad_train_input_is_one_line_and_exit_2(capsys, tmp_path, argv, message):
  code, err = _error(capsys, [*argv, "--workdir", str(tmp_path)])
  assert code == 2
  assert message in err and len(err.splitlines()) == 1, err
  assert not os.path.exists(tmp_path / "checkpoints")


def test_sample_and_eval_without_checkpoint(capsys, tmp_path):
  for argv in (["sample", "--workdir", str(tmp_path), "--out", str(tmp_path / "x.png")],
               ["eval", "--workdir", str(tmp_path)]):
    code, err = _error(capsys, argv)
    assert code == 2 and "train first" in err and len(err.splitlines()) == 1, err


def test_unwritable_workdir(capsys, tmp_path):
  # A path under a regular file cannot be created, whoever runs the test (even root).
  blocker = tmp_path / "file"
  blocker.write_text("not a folder")
  code, err = _error(capsys, ["train", *SMOKE, "--workdir", str(blocker / "run")])
  assert code == 2 and "cannot write to workdir" in err and len(err.splitlines()) == 1, err


def test_eval_with_inception_metrics_end_to_end(trained, tmp_path, capsys):
  # Random Inception weights (no download here) converted to the library's format, a
  # reference statistics file made by `aigc stats` from a folder, then `aigc eval
  # --metrics fid,is`: the whole user path, checked for shape and sanity of the output.
  from aigc_jax.metrics import inception
  weights = str(tmp_path / "inception.safetensors")
  inception.save_params(inception.init_variables(seed=0), weights)
  folder = tmp_path / "real"
  folder.mkdir()
  rng = np.random.default_rng(0)
  for i in range(4):
    Image.fromarray(rng.integers(0, 256, (16, 16), dtype=np.uint8)).save(folder / f"{i}.png")
  ref = str(tmp_path / "ref.npz")
  assert main(["stats", "--data", str(folder), "--out", ref, "--inception-weights", weights,
               "--batch-size", "4"]) == 0
  capsys.readouterr()
  assert main(["eval", "--workdir", trained, "--num-samples", "10", "--metrics", "fid,is",
               "--ref", ref, "--inception-weights", weights]) == 0
  result = json.loads(capsys.readouterr().out.strip())
  assert result["fid"] >= 0 and np.isfinite(result["fid"])
  assert result["is_mean"] >= 1.0 - 1e-6
  code, err = _error(capsys, ["eval", "--workdir", trained, "--num-samples", "10", "--metrics", "fid"])
  assert code == 2 and "convert-inception" in err and len(err.splitlines()) == 1, err
  code, err = _error(capsys, ["eval", "--workdir", trained, "--num-samples", "3"])
  assert code == 2 and "at least 10" in err, err


def test_eval_classifier_flag_reaches_the_evaluator(trained, tmp_path, capsys):
  """--classifier is handed to the family's evaluation: an unreadable file is its one-line error."""
  bad = tmp_path / "clf.npz"
  bad.write_bytes(b"not a classifier")
  code, err = _error(capsys, ["eval", "--workdir", trained, "--num-samples", "10", "--classifier", str(bad)])
  assert code == 2 and "cannot read classifier" in err and len(err.splitlines()) == 1


def test_train_help_lists_the_shipped_configs_and_their_variants(capsys):
  with pytest.raises(SystemExit) as exit_:
    main(["train", "--help"])
  assert exit_.value.code == 0
  out = capsys.readouterr().out
  assert "shipped configs" in out and "<the shipped configs>" not in out
  assert "dcgan_digits  [" in out and "smoke" in out and "diffusion_digits  [uncond, edm, flow, res16, smoke]" in out


def test_starting_a_run_imports_no_config_module_and_not_torch(tmp_path):
  """What every `aigc` process pays at start: building the parser must not import the
  shipped configs (only `--help` lists them), and the TensorBoard writer must not import
  torch (tensorboardX tries to; it costs seconds where torch is installed), while torch
  stays importable afterwards."""
  import subprocess
  import sys
  code = f"""
import sys
from aigc_jax.cli.main import build_parser
from aigc_jax.train.writer import MetricWriter
build_parser()
writer = MetricWriter({str(tmp_path)!r}, 0)
writer.write_scalars(1, {{"loss": 0.5}})
writer.close()
configs = sorted(m for m in sys.modules if m.startswith("aigc_jax.configs."))
assert configs == ["aigc_jax.configs.common"] or not configs, configs
assert "torch" not in sys.modules
import importlib.util
assert importlib.util.find_spec("torch") is None or __import__("torch").__name__ == "torch"
"""
  subprocess.run([sys.executable, "-c", code], check=True, timeout=300)
  assert any(f.startswith("events.out.tfevents.") for f in os.listdir(tmp_path))
