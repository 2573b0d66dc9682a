"""The evaluator classifier of a folder dataset (`evaluation.classifier`): trained on a
tiny class folder, written and read back, and used by the eval path
(`run_eval.generator_metrics(..., classifier=FILE)`) for IS, FID and conditional accuracy."""

import os
import types

import ml_collections
import numpy as np
import pytest
from PIL import Image

from aigc_jax.evaluation import classifier, classifier_metrics, run_eval
from aigc_jax.errors import UserError


def _folder(root, names, per_split=(16, 6)):
  """Class c's images are grey 8x8 noise around a level of its own (dark, bright): an
  easy, certain task, so a few steps must classify every test image."""
  rng = np.random.default_rng(0)
  for split, n in zip(("train", "test"), per_split):
    for c, name in enumerate(names):
      os.makedirs(os.path.join(root, split, name))
      for i in range(n):
        level = 40 + 170 * c
        pixels = np.clip(level + rng.integers(-30, 31, (8, 8)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(os.path.join(root, split, name, f"{i}.png"))
  return str(root)


def _data(path, data_dir):
  return ml_collections.ConfigDict({"name": "folder", "path": str(path), "data_dir": str(data_dir),
                                    "resolution": 8, "channels": 1, "resize": "resize", "test_fraction": 0.1})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """(data config, classifier file, Trained): one tiny classifier for the module."""
  tmp = tmp_path_factory.mktemp("clf")
  data = _data(_folder(tmp / "dark_bright", ("dark", "bright")), tmp / "data")
  result = classifier.train(data, num_steps=40, batch_size=8, log=lambda _: None)
  path = str(tmp / "clf.npz")
  classifier.save(result, path)
  return data, path, result


def test_a_tiny_classifier_learns_the_folder_and_round_trips(trained):
  data, path, result = trained
  assert result.test_accuracy == 1.0 and result.label_names == ("bright", "dark")
  loaded = classifier.load(path)
  assert (loaded.resolution, loaded.channels, loaded.label_names, loaded.test_accuracy) == (8, 1, ("bright", "dark"), 1.0)
  images, labels = classifier.split_arrays(data, "test")
  np.testing.assert_array_equal(classifier.classify(loaded, images)[0], classifier.classify(result, images)[0])
  # RGB images of another size are converted to the classifier's grey 8x8.
  rgb = np.repeat(np.kron(images, np.ones((1, 2, 2, 1), np.uint8)), 3, axis=-1)
  assert (classifier.classify(loaded, rgb)[0].argmax(-1) == labels).all()
  assert os.path.getsize(path) < 1_000_000


def test_eval_path_reports_is_fid_and_conditional_accuracy(trained):
  data, path, _ = trained
  run_data = types.SimpleNamespace(name="folder", config=data)
  images, labels = classifier.split_arrays(data, "test")
  right = run_eval.generator_metrics(run_data, images, step=0, labels=labels, classifier=path)
  assert right["conditional_accuracy"] == 1.0 and right["classifier_test_accuracy"] == 1.0
  assert abs(right["classifier_fid"]) < 1e-3  # The test split against itself.
  assert 1.0 <= right["classifier_is"] <= 2.0 and right["real_classifier_fid"] >= 0.0
  wrong = run_eval.generator_metrics(run_data, images, step=0, labels=1 - labels, classifier=path)
  assert wrong["conditional_accuracy"] == 0.0
  one_class = run_eval.generator_metrics(run_data, images[labels == 0].repeat(2, 0), step=0, classifier=path)
  assert one_class["classifier_fid"] > 1.0 and "conditional_accuracy" not in one_class
  assert one_class["classifier_is"] < right["classifier_is"]


def test_a_classifier_of_other_classes_or_a_bad_file_is_a_one_line_error(trained, tmp_path):
  _, path, result = trained
  other = _data(_folder(tmp_path / "other", ("cats", "dogs"), (2, 6)), tmp_path / "data")
  images, labels = classifier.split_arrays(other, "test")
  with pytest.raises(UserError, match="classifier's labels"):
    classifier_metrics.classifier_metrics(result, other, images, labels=labels)
  (tmp_path / "bad.npz").write_bytes(b"not a classifier")
  with pytest.raises(UserError, match="cannot read classifier"):
    classifier.load(str(tmp_path / "bad.npz"))
  flat = tmp_path / "flat"
  flat.mkdir()
  for i in range(12):
    Image.new("L", (8, 8), i * 20).save(flat / f"{i}.png")
  with pytest.raises(UserError, match="no class labels"):
    classifier.train(_data(flat, tmp_path / "data"), num_steps=1)
