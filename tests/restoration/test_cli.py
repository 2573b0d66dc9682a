"""End to end through `aigc`: train a tiny inpainting run, eval, inpaint, denoise, errors."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from aigc_jax.cli.main import main


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("inpaint"))
  assert main(["train", "--config", "inpaint_digits:smoke", "--workdir", workdir]) == 0
  return workdir


@pytest.fixture()
def photo(tmp_path):
  rng = np.random.default_rng(0)
  # An odd size: the model pads to its multiple and crops back.
  path = tmp_path / "in.png"
  Image.fromarray(rng.integers(0, 256, (19, 23, 3), dtype=np.uint8)).save(path)
  return path


def _error(capsys, argv):
  code = main(argv)
  return code, capsys.readouterr().err.strip()


def test_train_writes_a_three_row_grid_and_eval_reports_all_methods(trained, capsys):
  grid = np.asarray(Image.open(os.path.join(trained, "samples", "step_0000004.png")))
  # Rows corrupted, restored, original of 4 test digits, 16 px + padding 2, shown at 4x.
  assert grid.shape[0] == (3 * 18 + 2) * 4 and grid.shape[1] == (4 * 18 + 2) * 4
  assert main(["eval", "--workdir", trained, "--num-samples", "16", "--mask-type", "strokes"]) == 0
  result = json.loads(capsys.readouterr().out)
  assert result["mask_type"] == "strokes" and result["num_images"] == 16
  assert {f"{m}_{k}" for m in ("psnr", "ssim", "psnr_hole", "ssim_hole")
          for k in ("model", "nlmeans", "mean_fill")} <= set(result)


def test_inpaint_with_the_model_keeps_size_and_known_pixels(trained, photo, tmp_path):
  mask = np.zeros((19, 23), np.uint8)
  mask[5:12, 6:15] = 255
  Image.fromarray(mask).save(tmp_path / "mask.png")
  out = tmp_path / "out.png"
  assert main(["inpaint", "--workdir", trained, "--input", str(photo), "--mask", str(tmp_path / "mask.png"),
               "--out", str(out)]) == 0
  restored = np.asarray(Image.open(out))
  assert restored.shape == (19, 23, 3)
  # The run is grayscale: known pixels are the input's luma, exactly (to rounding).
  luma = np.asarray(Image.open(photo)).astype(np.float32) @ np.array([0.299, 0.587, 0.114])
  known = mask == 0
  assert np.abs(restored[..., 0][known].astype(np.float32) - luma[known]).max() <= 0.5 + 1e-3


def test_denoise_with_the_model_keeps_size(trained, photo, tmp_path, capsys):
  # The same network serves both modes: a copy of the run relabelled as a denoising run.
  import shutil
  workdir = str(tmp_path / "denoise_run")
  shutil.copytree(trained, workdir)
  with open(os.path.join(workdir, "config.json")) as f:
    config = json.load(f)
  config["mode"] = "denoise"
  with open(os.path.join(workdir, "config.json"), "w") as f:
    json.dump(config, f)
  out = tmp_path / "den.png"
  assert main(["denoise", "--workdir", workdir, "--input", str(photo), "--sigma", "0.1", "--out", str(out)]) == 0
  assert np.asarray(Image.open(out)).shape == (19, 23, 3)
  assert "trained on noise sigma 0.2" in capsys.readouterr().err  # The smoke run's sigma.


def test_nlmeans_needs_no_run_and_folders_write_one_png_each(photo, tmp_path):
  folder = tmp_path / "inputs"
  folder.mkdir()
  for name in ("a.png", "b.jpg"):
    Image.open(photo).save(folder / name)
  (folder / "notes.txt").write_text("not an image")
  out = tmp_path / "filled"
  with pytest.warns(UserWarning, match="notes.txt"):
    assert main(["inpaint", "--input", str(folder), "--mask-type", "center", "--method", "nlmeans",
                 "--out", str(out)]) == 0
  assert sorted(os.listdir(out)) == ["a.png", "b.png"]
  original = np.asarray(Image.open(photo))
  filled = np.asarray(Image.open(out / "a.png"))
  assert filled.shape == original.shape
  assert np.array_equal(filled[:4], original[:4])  # Outside the centre box: unchanged.
  assert not np.array_equal(filled, original)


def test_denoise_with_nlmeans_beats_the_noisy_input(tmp_path):
  x = np.linspace(0, 255, 32).astype(np.uint8)
  clean = np.stack([np.tile(x, (32, 1))] * 3, axis=-1)
  Image.fromarray(clean).save(tmp_path / "clean.png")
  out = tmp_path / "den.png"
  assert main(["denoise", "--input", str(tmp_path / "clean.png"), "--sigma", "0.1", "--add-noise",
               "--method", "nlmeans", "--out", str(out)]) == 0
  error = np.abs(np.asarray(Image.open(out)).astype(float) - clean).mean()
  # The added noise alone: E|N(0, 0.1)| = 0.1 sqrt(2 / pi) = 0.08 of the range (~20 levels).
  assert error < 0.5 * 0.1 * np.sqrt(2 / np.pi) * 255


def test_user_errors(trained, photo, tmp_path, capsys):
  Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "small_mask.png")
  code, err = _error(capsys, ["inpaint", "--workdir", trained, "--input", str(photo), "--mask",
                              str(tmp_path / "small_mask.png"), "--out", str(tmp_path / "o.png")])
  assert code == 2 and "mask is 8x8 but image in.png is 19x23" in err
  code, err = _error(capsys, ["denoise", "--workdir", trained, "--input", str(photo), "--sigma", "0.1",
                              "--out", str(tmp_path / "o.png")])
  assert code == 2 and "needs a denoise run" in err
  code, err = _error(capsys, ["inpaint", "--input", str(photo), "--mask-type", "center",
                              "--out", str(tmp_path / "o.png")])
  assert code == 2 and "needs --workdir" in err
  (tmp_path / "a_file").write_text("x")
  code, err = _error(capsys, ["inpaint", "--input", str(photo), "--mask-type", "center", "--method", "nlmeans",
                              "--out", str(tmp_path / "a_file" / "o.png")])
  assert code == 2 and "cannot write" in err and len(err.splitlines()) == 1, err
  code, err = _error(capsys, ["denoise", "--input", str(tmp_path / "missing.png"), "--sigma", "0.1",
                              "--method", "nlmeans", "--out", str(tmp_path / "o.png")])
  assert code == 2 and "does not exist" in err
  assert len(err.splitlines()) == 1
