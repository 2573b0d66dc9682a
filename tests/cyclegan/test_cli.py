"""End to end through `aigc`: train, translate (files and folders), eval, and the errors."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from aigc_jax.cli.main import main

SMOKE = ["--config", "cyclegan_photos:smoke"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("cyclegan"))
  assert main(["train", *SMOKE, "--workdir", workdir]) == 0
  return workdir


def _error(capsys, argv):
  code = main(argv)
  return code, capsys.readouterr().err.strip()


def test_train_writes_metrics_and_a_six_row_grid(trained):
  with open(os.path.join(trained, "metrics.jsonl")) as f:
    records = [json.loads(line) for line in f]
  assert [r["step"] for r in records] == [2, 4]
  assert {"g_loss", "cycle_a", "cycle_b", "d_a", "d_b", "lr"} <= set(records[0])
  grid = np.asarray(Image.open(os.path.join(trained, "samples", "step_0000004.png")))
  # Rows real A, fake B, rec A, real B, fake A, rec B; 8 test images of 32 px, padding 2, 2x.
  assert grid.shape == ((6 * 34 + 2) * 2, (8 * 34 + 2) * 2, 3)


def test_translate_a_file_keeps_its_odd_size(trained, tmp_path, capsys):
  Image.fromarray(np.random.default_rng(0).integers(0, 256, (37, 45, 3), dtype=np.uint8)).save(tmp_path / "in.png")
  out = tmp_path / "out.png"
  assert main(["translate", "--workdir", trained, "--input", str(tmp_path / "in.png"), "--out", str(out),
               "--direction", "BtoA"]) == 0
  assert np.asarray(Image.open(out)).shape == (37, 45, 3)
  assert "wrote 1 translated image" in capsys.readouterr().out


def test_translate_a_folder_writes_one_png_per_readable_image(trained, tmp_path):
  src = tmp_path / "in"
  src.mkdir()
  Image.new("RGB", (33, 20), "red").save(src / "a.jpg")
  Image.new("RGB", (16, 16), "blue").save(src / "b.png")
  (src / "c.png").write_bytes(b"not a png")
  with pytest.warns(UserWarning, match="c.png"):
    assert main(["translate", "--workdir", trained, "--input", str(src), "--out", str(tmp_path / "out")]) == 0
  assert sorted(os.listdir(tmp_path / "out")) == ["a.png", "b.png"]
  assert np.asarray(Image.open(tmp_path / "out" / "a.png")).shape == (20, 33, 3)


def test_eval_reports_cycle_error(trained, capsys):
  assert main(["eval", "--workdir", trained]) == 0
  result = json.loads(capsys.readouterr().out.strip())
  assert result["step"] == 4 and result["num_test_a"] == 8
  assert 0 < result["cycle_error"] < 2


def test_sample_points_to_translate(trained, capsys, tmp_path):
  code, err = _error(capsys, ["sample", "--workdir", trained, "--out", str(tmp_path / "x.png")])
  assert code == 2 and "aigc translate" in err and len(err.splitlines()) == 1, err


def test_fid_without_inception_weights_is_one_line(trained, capsys, monkeypatch):
  monkeypatch.delenv("AIGC_INCEPTION_WEIGHTS", raising=False)
  code, err = _error(capsys, ["eval", "--workdir", trained, "--metrics", "fid"])
  assert code == 2 and "Inception weights" in err and len(err.splitlines()) == 1, err


def test_translate_errors_are_one_line(trained, capsys, tmp_path):
  Image.new("RGB", (5, 40)).save(tmp_path / "thin.png")
  gan_run = tmp_path / "gan_run"
  gan_run.mkdir()
  (gan_run / "config.json").write_text(json.dumps({"task": "gan"}))
  cases = [
      (["--workdir", trained, "--input", str(tmp_path / "missing.png")], "does not exist"),
      (["--workdir", trained, "--input", str(tmp_path / "thin.png")], "at least 8x8"),
      (["--workdir", str(gan_run), "--input", str(tmp_path / "thin.png")], "needs a CycleGAN or pix2pix run"),
  ]
  for argv, message in cases:
    code, err = _error(capsys, ["translate", *argv, "--out", str(tmp_path / "o.png")])
    assert code == 2 and message in err and len(err.splitlines()) == 1, err
