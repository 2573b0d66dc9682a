"""`aigc fid A B` (and fid_between): folders, statistics files, workdirs, the cache.

One test runs the real (random-weight) Inception and Fréchet distance end to end; the
others swap in a cheap linear feature map and a cheap distance between the statistics,
since what they check (counts, sources, caching, errors) does not depend on either, and
an Inception batch or a 2048-d Fréchet distance costs seconds on a CPU.
"""

import json

import numpy as np
import pytest
from PIL import Image

from aigc_jax.cli.main import main
from aigc_jax.metrics import (FeatureStats, compare, fid_from_features, inception_features,
                              knn_metrics, load_stats)

SIZE = 16  # as conftest's fake_features and test_features (one resize compile)


@pytest.fixture(scope="module")
def folders(tmp_path_factory, make_images):
  """A: 4 images, B: 6 images (and a broken file, skipped with a warning)."""
  root = tmp_path_factory.mktemp("fid")
  made = {}
  for name, seed, n in (("a", 20, 4), ("b", 21, 6)):
    images = make_images(seed, n, SIZE, SIZE)
    (root / name / "sub").mkdir(parents=True)
    for i, image in enumerate(images):
      # One image in a subfolder: folders are searched recursively, in sorted path order.
      Image.fromarray(image).save(root / name / ("sub/9.png" if i == n - 1 else f"{i}.png"))
    made[name] = (root / name, images)
  (root / "b" / "0broken.png").write_bytes(b"not an image")
  return made


@pytest.fixture(scope="module")
def features(folders, jax_variables, batch):
  return {name: inception_features(jax_variables, images, batch_size=batch)[0]
          for name, (_, images) in folders.items()}


def run_fid(capsys, *args):
  code = main(["fid", *map(str, args)])
  captured = capsys.readouterr()
  return code, captured


def test_two_folders(folders, features, jax_weights_file, batch, capsys, tmp_path):
  out = tmp_path / "b.npz"
  with pytest.warns(UserWarning, match="0broken.png"):
    code, captured = run_fid(capsys, folders["a"][0], folders["b"][0], "--inception-weights",
                             jax_weights_file, "--batch-size", batch, "--save-stats", out,
                             "--metrics", "fid,precision,recall,density,coverage")
  assert code == 0, captured.err
  report = json.loads(captured.out)
  assert captured.out.count("\n") == 1
  # Odd counts with batch 2: every image is counted once, none dropped or padded in.
  assert report["a"]["num_samples"] == 4 and report["b"]["num_samples"] == 6
  assert "none dropped or repeated" in report["samples"]
  assert report["fid"] == pytest.approx(fid_from_features(features["a"], features["b"]),
                                        rel=1e-6)
  want = knn_metrics(features["b"], features["a"], 3, 5)
  for name in ("precision", "recall", "density", "coverage"):
    assert report[name] == pytest.approx(getattr(want, name)), name
  assert report["k"] == {"precision": 3, "recall": 3, "density": 5, "coverage": 5}
  # --save-stats wrote B's statistics.
  mu, sigma = load_stats(out)
  want_mu, want_sigma = FeatureStats().update(features["b"]).mean_cov()
  np.testing.assert_allclose(mu, want_mu, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(sigma, want_sigma, rtol=1e-4, atol=1e-5)


def test_statistics_file_as_a_source(folders, fake_network, capsys,
                                     tmp_path):
  out = tmp_path / "b.npz"
  args = ["--inception-weights", fake_network, "--batch-size", 3]
  with pytest.warns(UserWarning, match="0broken.png"):
    first = json.loads(run_fid(capsys, folders["a"][0], folders["b"][0], "--save-stats",
                               out, *args)[1].out)
  code, captured = run_fid(capsys, folders["a"][0], out, *args)
  assert code == 0
  report = json.loads(captured.out)
  assert report["fid"] == pytest.approx(first["fid"], rel=1e-6)
  assert report["b"]["kind"] == "stats" and report["b"]["num_samples"] == 6
  # k-NN metrics need features on both sides.
  code, captured = run_fid(capsys, folders["a"][0], out, "--metrics", "precision", *args)
  assert code == 2 and "statistics file" in captured.err and captured.err.count("\n") == 1


def test_num_samples_is_exact(folders, fake_network, fake_features, capsys, tmp_path):
  out = tmp_path / "b.npz"
  with pytest.warns(UserWarning, match="0broken.png"):
    code, captured = run_fid(capsys, folders["a"][0], folders["b"][0], "--num-samples", 3,
                             "--inception-weights", fake_network, "--batch-size", 2,
                             "--save-stats", out)
  assert code == 0, captured.err
  report = json.loads(captured.out)
  assert report["a"]["num_samples"] == report["b"]["num_samples"] == 3
  # The first 3 readable images in sorted path order (0..2.png; sub/ comes after).
  mu, _ = load_stats(out)
  np.testing.assert_allclose(mu, fake_features(folders["b"][1][:3]).mean(0), rtol=1e-5,
                             atol=1e-4)
  code, captured = run_fid(capsys, folders["a"][0], folders["b"][0], "--num-samples", 5,
                           "--inception-weights", fake_network)
  assert code == 2 and "fewer than the 5 asked for" in captured.err


def test_statistics_are_cached_by_content(folders, fake_network, capsys,
                                          monkeypatch, tmp_path):
  monkeypatch.setenv("AIGC_STATS_CACHE_DIR", str(tmp_path / "cache"))
  args = [folders["a"][0], folders["a"][0], "--inception-weights", fake_network,
          "--batch-size", 2]
  first = json.loads(run_fid(capsys, *args)[1].out)
  assert not first["a"]["cached"] and first["b"]["cached"]  # A filled it for B
  assert len(list((tmp_path / "cache").iterdir())) == 1
  again = json.loads(run_fid(capsys, *args, "--no-cache")[1].out)
  assert not again["a"]["cached"] and not again["b"]["cached"]
  assert again["fid"] == first["fid"]
  # A copy of the folder elsewhere is the same content: a hit; one changed pixel is not.
  copy = tmp_path / "copy"
  copy.mkdir()
  for path in sorted(folders["a"][0].rglob("*.png")):
    target = copy / path.relative_to(folders["a"][0])
    target.parent.mkdir(exist_ok=True)
    target.write_bytes(path.read_bytes())
  assert json.loads(run_fid(capsys, copy, copy, *args[2:])[1].out)["a"]["cached"]
  image = np.asarray(Image.open(copy / "0.png")).copy()
  image[0, 0, 0] ^= 1
  Image.fromarray(image).save(copy / "0.png")
  assert not json.loads(run_fid(capsys, copy, folders["a"][0], *args[2:])[1].out)["a"]["cached"]


class FakeSampler:
  """Stands in for a trained run's sampler: deterministic images from the key."""

  def __init__(self):
    self.calls = []

  def __call__(self, key, num):
    import jax
    self.calls.append(num)
    seed = int(jax.random.randint(key, (), 0, 2 ** 30))
    return np.random.default_rng(seed).integers(0, 256, (num, SIZE, SIZE, 3), dtype=np.uint8)


def test_generated_batches_are_exact_and_keyed_per_chunk(monkeypatch):
  sampler = FakeSampler()
  monkeypatch.setattr(compare, "_load_sampler", lambda workdir: sampler)
  batches = list(compare.generated_batches("run", 5, seed=1, chunk=2))
  assert [b.shape[0] for b in batches] == [2, 2, 1] and sampler.calls == [2, 2, 1]
  assert not np.array_equal(batches[0], batches[1])  # each chunk has its own key
  again = np.concatenate(list(compare.generated_batches("run", 5, seed=1, chunk=2)))
  np.testing.assert_array_equal(np.concatenate(batches), again)


def test_workdir_source_generates_the_samples(folders, fake_network, fake_features,
                                              monkeypatch, tmp_path, capsys):
  workdir = tmp_path / "run"
  workdir.mkdir()
  (workdir / "config.json").write_text("{}")
  monkeypatch.setattr(compare, "_load_sampler", lambda path: FakeSampler())
  out = tmp_path / "run.npz"
  code, captured = run_fid(capsys, folders["a"][0], workdir, "--num-samples", 3,
                           "--inception-weights", fake_network, "--batch-size", 2,
                           "--save-stats", out)
  assert code == 0, captured.err
  report = json.loads(captured.out)
  assert report["b"] == {"source": str(workdir), "kind": "workdir", "num_samples": 3,
                         "cached": False}
  samples = np.concatenate(list(compare.generated_batches(str(workdir), 3)))
  mu, _ = load_stats(out)
  np.testing.assert_allclose(mu, fake_features(samples).mean(0), rtol=1e-5, atol=1e-4)


def test_bad_sources_are_one_line_errors(tmp_path, fake_network, capsys):
  (tmp_path / "x.txt").write_text("x")
  code, captured = run_fid(capsys, tmp_path / "x.txt", tmp_path, "--inception-weights",
                           fake_network)
  assert code == 2 and "neither an image folder" in captured.err
  assert captured.err.count("\n") == 1
