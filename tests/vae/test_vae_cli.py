"""End to end through `aigc` on the short conditional-VAE run (trained with `aigc train` in
conftest.py): sample --labels, reconstruct, interpolate, eval, and the one-line errors."""

import json

import numpy as np
import pytest
from PIL import Image

from aigc_jax.cli.main import main


@pytest.fixture(scope="module")
def trained(short_run):
  return short_run.workdir


def _error(capsys, argv):
  code = main(argv)
  return code, capsys.readouterr().err.strip()


def _png(path, size, mode="RGB"):
  rng = np.random.default_rng(0)
  Image.fromarray(rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)).convert(mode).save(path)
  return str(path)


def test_sample_with_labels(trained, tmp_path, capsys):
  out = str(tmp_path / "threes.png")
  assert main(["sample", "--workdir", trained, "--labels", "3", "--num", "4", "--out", out]) == 0
  # 2x2 grid of 8x8 images with 2-pixel padding, upscaled 8x.
  assert np.asarray(Image.open(out)).shape[:2] == ((2 * 10 + 2) * 8,) * 2
  code, err = _error(capsys, ["sample", "--workdir", trained, "--labels", "three", "--out", out])
  assert code == 2 and "unknown label(s) 'three'" in err and "valid labels: 0, 1," in err
  assert len(err.splitlines()) == 1


def test_reconstruct_a_png_and_a_folder(trained, tmp_path, capsys):
  out = str(tmp_path / "pair.png")
  image = _png(tmp_path / "digit.png", 20)  # RGB and 20x20: converted to gray, resized to 8x8.
  assert main(["reconstruct", "--workdir", trained, "--input", image, "--labels", "3", "--out", out]) == 0
  assert np.asarray(Image.open(out)).shape[:2] == ((10 + 2) * 8, (2 * 10 + 2) * 8)  # input | reconstruction
  folder = tmp_path / "many"
  folder.mkdir()
  for i in range(3):
    _png(folder / f"{i}.png", 8, mode="L")
  assert main(["reconstruct", "--workdir", trained, "--input", str(folder), "--labels", "1,2,3", "--out", out]) == 0
  assert np.asarray(Image.open(out)).shape[:2] == ((10 + 2) * 8, (6 * 10 + 2) * 8)
  code, err = _error(capsys, ["reconstruct", "--workdir", trained, "--input", image, "--out", out])
  assert code == 2 and "--labels" in err and len(err.splitlines()) == 1


def test_interpolate_writes_rows_of_steps(trained, tmp_path):
  out = str(tmp_path / "walk.png")
  assert main(["interpolate", "--workdir", trained, "--steps", "5", "--rows", "2", "--out", out]) == 0
  assert np.asarray(Image.open(out)).shape[:2] == ((2 * 10 + 2) * 8, (5 * 10 + 2) * 8)


def test_eval_reports_bounds_and_digits_metrics(trained, capsys):
  assert main(["eval", "--workdir", trained]) == 0
  result = json.loads(capsys.readouterr().out.strip())
  for key in ("test_nelbo", "test_iwae_nll", "digits_is", "digits_fid", "conditional_accuracy"):
    assert key in result, key
  assert result["iwae_samples"] == 16 and result["test_images"] == 360 and result["num_samples"] == 200
  assert 0 < result["test_iwae_nll"] < 64 * np.log(256) * 1.5  # Below ~1.5x a uniform pixel model.
  assert 1.0 <= result["digits_is"] <= 10.0


def test_vae_commands_reject_other_runs(tmp_path, capsys):
  (tmp_path / "config.json").write_text(json.dumps({"task": "gan"}))
  code, err = _error(capsys, ["interpolate", "--workdir", str(tmp_path), "--out", str(tmp_path / "x.png")])
  assert code == 2 and "needs a VAE run" in err
  image = _png(tmp_path / "digit.png", 8)  # A readable input: the workdir is what is wrong.
  code, err = _error(capsys, ["reconstruct", "--workdir", str(tmp_path / "none"), "--input", image, "--out", "y"])
  assert code == 2 and "train first" in err
