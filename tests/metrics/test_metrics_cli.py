"""`aigc convert-inception` and `aigc stats`, through aigc_jax.cli.main.main."""

import json
import sys

import numpy as np
import pytest
from PIL import Image

from aigc_jax.cli.main import main
from aigc_jax.metrics import FeatureStats, inception, inception_features, load_stats


def flat(variables):
  return inception.traverse_util.flatten_dict(variables, sep="/")


def test_convert_inception_round_trip(torch_reference, tmp_path, capsys):
  import torch
  state_dict = torch_reference[2]
  torch.save({k: torch.from_numpy(v) for k, v in state_dict.items()}, tmp_path / "in.pth")
  out = tmp_path / "inception.safetensors"
  assert main(["convert-inception", str(tmp_path / "in.pth"), str(out)]) == 0
  printed = capsys.readouterr().out
  assert printed.count("\n") == 1 and str(out) in printed
  # The file holds exactly the converted variables, so it gives the same outputs.
  want, got = flat(inception.params_from_torch_state_dict(state_dict)), flat(
      inception.load_params(out))
  assert want.keys() == got.keys()
  for k in want:
    np.testing.assert_array_equal(want[k], got[k])


def test_convert_inception_without_torch(monkeypatch, tmp_path, capsys):
  monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
  assert main(["convert-inception", str(tmp_path / "in.pth"), str(tmp_path / "o")]) == 2
  assert "pip install torch" in capsys.readouterr().err


def test_convert_inception_rejects_other_files(tmp_path, capsys):
  torch = pytest.importorskip("torch")
  torch.save({"weight": torch.zeros(3)}, tmp_path / "other.pth")
  assert main(["convert-inception", str(tmp_path / "other.pth"), str(tmp_path / "o")]) == 2
  assert "not the FID Inception" in capsys.readouterr().err


def test_missing_weights_exit_2_with_one_line(monkeypatch, tmp_path, capsys):
  monkeypatch.delenv("AIGC_INCEPTION_WEIGHTS", raising=False)
  code = main(["stats", "--data", str(tmp_path), "--out", str(tmp_path / "ref.npz")])
  err = capsys.readouterr().err
  assert code == 2
  assert err.count("\n") == 1
  assert ("aigc convert-inception pt_inception-2015-12-05-6726825d.pth "
          "inception_fid.safetensors") in err
  assert "--inception-weights" in err and "AIGC_INCEPTION_WEIGHTS" in err


@pytest.fixture
def image_folder(tmp_path, make_images):
  """3 RGB PNGs, a grey PNG in a subfolder, an unreadable .png and a .txt file."""
  folder = tmp_path / "images"
  (folder / "sub").mkdir(parents=True)
  rgb = make_images(10, 3, 20, 20)
  for i, image in enumerate(rgb):
    Image.fromarray(image).save(folder / f"{i}.png")
  grey = make_images(11, 1, 20, 20, c=1)[0, :, :, 0]
  Image.fromarray(grey).save(folder / "sub" / "grey.png")
  (folder / "broken.png").write_bytes(b"not an image")
  (folder / "notes.txt").write_text("ignored: not an image extension")
  # Sorted path order: 0, 1, 2, then sub/grey (broken.png is skipped).
  return folder, np.concatenate([rgb, np.repeat(grey[None, :, :, None], 3, -1)])


def test_stats_of_a_folder(image_folder, jax_variables, jax_weights_file, batch, tmp_path,
                           capsys):
  folder, images = image_folder
  out = tmp_path / "ref.npz"
  with pytest.warns(UserWarning, match="broken.png"):
    code = main(["stats", "--data", str(folder), "--out", str(out), "--inception-weights",
                 str(jax_weights_file), "--batch-size", str(batch)])
  assert code == 0
  report = json.loads(capsys.readouterr().out)
  assert report["num_images"] == 4 and report["out"] == str(out)
  pool3, _ = inception_features(jax_variables, images, batch_size=batch)
  want_mu, want_sigma = FeatureStats().update(pool3).mean_cov()
  mu, sigma = load_stats(out)
  np.testing.assert_allclose(mu, want_mu, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(sigma, want_sigma, rtol=1e-4, atol=1e-5)


def test_stats_resolves_dataset_names_through_aigc_jax_data(
    monkeypatch, jax_weights_file, make_images, batch, tmp_path, capsys):
  import aigc_jax.data
  calls = []

  def fake_load_images(name, split):
    calls.append((name, split))
    if name != "tiny":
      raise KeyError(name)
    return make_images(12, 2, 8, 8)

  monkeypatch.setattr(aigc_jax.data, "load_images", fake_load_images, raising=False)
  args = ["--out", str(tmp_path / "ref.npz"), "--inception-weights", str(jax_weights_file),
          "--batch-size", str(batch)]
  assert main(["stats", "--data", "tiny", "--split", "test", *args]) == 0
  assert calls == [("tiny", "test")]
  assert json.loads(capsys.readouterr().out)["num_images"] == 2
  assert main(["stats", "--data", "no-such-thing", *args]) == 2
  assert "neither a folder nor a known dataset" in capsys.readouterr().err


def test_stats_are_cached_by_content(image_folder, fake_network, monkeypatch, tmp_path,
                                     capsys):
  folder, _ = image_folder
  monkeypatch.setenv("AIGC_STATS_CACHE_DIR", str(tmp_path / "cache"))
  args = ["stats", "--data", str(folder), "--inception-weights", str(fake_network),
          "--batch-size", "2", "--out"]
  with pytest.warns(UserWarning, match="broken.png"):
    assert main([*args, str(tmp_path / "first.npz")]) == 0
  reports = [json.loads(capsys.readouterr().out)]
  assert main([*args, str(tmp_path / "second.npz")]) == 0  # reads no image: no warning
  reports.append(json.loads(capsys.readouterr().out))
  assert [r["cached"] for r in reports] == [False, True]
  assert reports[1]["num_images"] == 4
  first, second = load_stats(tmp_path / "first.npz"), load_stats(tmp_path / "second.npz")
  np.testing.assert_array_equal(first[0], second[0])
  np.testing.assert_array_equal(first[1], second[1])
