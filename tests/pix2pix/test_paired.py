"""Paired data: side-by-side files, A/B folders, tfds, the embedded tasks, augmentation, determinism."""

import jax
import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from aigc_jax.data import paired
from aigc_jax.errors import UserError


def _config(**data):
  config = paired.default_config()
  config.load_size, config.crop_size = 18, 16
  config.update(data)
  return config


def _side_by_side(path, left, right, size=(41, 20)):
  image = Image.new("RGB", size, left)
  image.paste(Image.new("RGB", (size[0] - size[0] // 2, size[1]), right), (size[0] // 2, 0))
  image.save(path)


def test_side_by_side_files_split_at_the_middle(tmp_path):
  (tmp_path / "train").mkdir()
  for i in range(3):
    _side_by_side(tmp_path / "train" / f"{i}.png", "red", "blue")
  (tmp_path / "train" / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
  (tmp_path / "train" / "notes.txt").write_text("not an image, not listed")
  config = _config(source="side_by_side", path=str(tmp_path))
  train = paired.pairs(config, "train", 18)
  assert len(train) == 4
  a, b = train[1]
  assert a.shape == b.shape == (18, 18, 3) and a.dtype == np.uint8
  np.testing.assert_array_equal(a[9, 9], [255, 0, 0])
  np.testing.assert_array_equal(b[9, 9], [0, 0, 255])
  with pytest.warns(UserWarning, match="broken.jpg"):
    skipped = train[3]  # The bad file's place is taken by the next pair, 0.png.
  np.testing.assert_array_equal(skipped[0], train[0][0])
  swapped = paired.pairs(_config(source="side_by_side", path=str(tmp_path), direction="BtoA"), "train", 18)[0]
  np.testing.assert_array_equal(swapped[0], b)
  with pytest.warns(UserWarning, match="training pairs"):
    assert len(paired.pairs(config, "test", 16)) == 4
  (tmp_path / "val").mkdir()
  _side_by_side(tmp_path / "val" / "v.png", "green", "white")
  np.testing.assert_array_equal(paired.pairs(config, "test", 16)[0][1][0, 0], [255, 255, 255])
  with pytest.raises(UserError, match="not a folder"):
    paired.pairs(_config(source="side_by_side", path=str(tmp_path / "nope")), "train", 18)
  (tmp_path / "empty" / "train").mkdir(parents=True)
  with pytest.raises(UserError, match="no images"):
    paired.pairs(_config(source="side_by_side", path=str(tmp_path / "empty")), "train", 18)
  left, right = paired.split_side_by_side(np.zeros((4, 7, 3), np.uint8))
  assert left.shape == (4, 3, 3) and right.shape == (4, 4, 3)


def test_folders_are_paired_by_file_name(tmp_path):
  for side, colour in (("A", "red"), ("B", "blue")):
    (tmp_path / side).mkdir()
    for i in range(3):
      Image.new("RGB", (30 + i, 20), colour).save(tmp_path / side / f"p{i}.{'png' if side == 'A' else 'jpg'}")
  config = _config(source="folders", path=str(tmp_path))
  train = paired.pairs(config, "train", 18)
  assert len(train) == 3
  a, b = train[2]
  np.testing.assert_array_equal(a[5, 5], [255, 0, 0])
  assert b[5, 5, 2] > 240 and b[5, 5, 0] < 15  # JPEG blue.
  # Unmatched names, a missing side, an empty side: one line each.
  Image.new("RGB", (8, 8)).save(tmp_path / "A" / "lonely.png")
  with pytest.raises(UserError, match=r"1 file\(s\) in .*A have no partner .* in B/: lonely.png") as e:
    paired.pairs(config, "train", 18)
  assert "\n" not in str(e.value)
  (tmp_path / "A" / "lonely.png").unlink()
  (tmp_path / "test" / "A").mkdir(parents=True)
  with pytest.raises(UserError, match="missing folder .*test.B"):
    paired.pairs(config, "test", 16)
  (tmp_path / "test" / "B").mkdir()
  with pytest.raises(UserError, match="no images"):
    paired.pairs(config, "test", 16)
  Image.new("RGB", (8, 8)).save(tmp_path / "B" / "p0.png")
  with pytest.raises(UserError, match="both p0.jpg and p0.png"):
    paired.pairs(config, "train", 18)


class PairedToy(tfds.core.GeneratorBasedBuilder):
  """Two image features of one scene, for the tfds source."""
  VERSION = tfds.core.Version("1.0.0")

  def _info(self):
    return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
        "sketch": tfds.features.Tensor(shape=(10, 12, 1), dtype=np.uint8),
        "photo": tfds.features.Tensor(shape=(10, 12, 3), dtype=np.uint8)}))

  def _split_generators(self, dl_manager):
    return {"train": self._generate_examples(4), "test": self._generate_examples(2)}

  def _generate_examples(self, n):
    for i in range(n):
      yield i, {"sketch": np.full((10, 12, 1), 10 * i, np.uint8), "photo": np.full((10, 12, 3), 20 * i, np.uint8)}


def test_tfds_source_reads_two_named_image_features(tmp_path):
  tfds.disable_progress_bar()
  PairedToy(data_dir=str(tmp_path), file_format="array_record").download_and_prepare()
  config = _config(source="tfds", name="paired_toy", data_dir=str(tmp_path), input_key="sketch",
                   target_key="photo")
  train = paired.pairs(config, "train", 18)
  assert len(train) == 4
  a, b = train[3]
  assert a.shape == (18, 18, 1) and b.shape == (18, 18, 3)
  # tfds orders records by a hash of their keys; each pair stays together.
  values = sorted((int(a[0, 0, 0]), int(b[0, 0, 0])) for a, b in (train[i] for i in range(4)))
  assert values == [(0, 0), (10, 20), (20, 40), (30, 60)]
  assert paired.channels(config) == (1, 3)
  with pytest.raises(UserError, match="no feature 'label'"):
    paired.pairs(_config(source="tfds", name="paired_toy", data_dir=str(tmp_path), input_key="label"), "train", 8)


def test_sobel_edges_mark_a_step():
  step = np.zeros((6, 8, 1), np.uint8)
  step[:, 4:] = 255
  edges = paired.sobel_edges(step)
  assert set(np.unique(edges)) == {0, 255}
  assert (edges[:, 3:5] == 255).all() and (edges[:, :2] == 0).all() and (edges[:, 6:] == 0).all()


def test_digit_edges_task():
  config = _config(source="digits_edges")
  train, test = paired.pairs(config, "train", 24), paired.pairs(config, "test", 16)
  assert (len(train), len(test)) == (1437, 360)
  edges, digit = train[0]
  assert edges.shape == digit.shape == (24, 24, 1)
  assert set(np.unique(edges)) <= {0, 255} and 0 < (edges == 255).mean() < 0.7
  # Edges lie where the digit changes: nowhere in its flat background.
  flat = np.ones_like(digit[..., 0], bool)
  for dy in (-1, 0, 1):
    for dx in (-1, 0, 1):
      flat &= np.roll(digit[..., 0], (dy, dx), (0, 1)) == digit[..., 0]
  assert not (edges[..., 0][1:-1, 1:-1] & flat[1:-1, 1:-1]).any()
  assert paired.channels(config) == (1, 1)


def test_photo_tasks():
  grey = _config(source="photos_grey", photo_size=32, photo_scale=0.25, num_train=6, num_test=2)
  a, b = paired.pairs(grey, "train", 18)[0]
  assert a.shape == (18, 18, 1) and b.shape == (18, 18, 3)
  luminance = (b.astype(np.float64) @ [0.299, 0.587, 0.114])
  assert np.abs(a[..., 0] - luminance).max() <= 1.0
  assert len(paired.pairs(grey, "test", 16)) == 2
  labels = _config(source="photos_labels", photo_size=32, photo_scale=0.25, num_train=6, num_clusters=5)
  label_map, photo = paired.pairs(labels, "train", 18)[1]
  colours = {tuple(c) for c in label_map.reshape(-1, 3)}
  assert colours <= {tuple(c) for c in paired.PALETTE[:5]} and len(colours) >= 2
  centres = paired.colour_clusters(5, 32, 0.25, 0)
  # Each pixel's label is the cluster nearest to its colour.
  nearest = np.argmin(((photo.reshape(-1, 1, 3).astype(np.float32) - centres) ** 2).sum(-1), 1)
  np.testing.assert_array_equal(paired.PALETTE[nearest].reshape(photo.shape), label_map)
  with pytest.raises(UserError, match="num_clusters"):
    paired.pairs(_config(source="photos_labels", num_clusters=1), "train", 18)


def test_augment_crops_and_flips_input_and_target_alike():
  rng = np.random.default_rng(0)
  x = rng.uniform(-1, 1, (4, 18, 18, 1)).astype(np.float32)
  batch = {"input": x, "target": np.concatenate([x, -x, 2 * x], -1)}
  run = jax.jit(paired.augment, static_argnames=("crop_size", "flip"))
  out = run(jax.random.key(3, impl="rbg"), batch, crop_size=16, flip=True)
  assert out["input"].shape == (4, 16, 16, 1) and out["target"].shape == (4, 16, 16, 3)
  np.testing.assert_array_equal(np.asarray(out["target"][..., :1]), np.asarray(out["input"]))
  np.testing.assert_array_equal(np.asarray(out["target"][..., 1:2]), -np.asarray(out["input"]))
  again = run(jax.random.key(3, impl="rbg"), batch, crop_size=16, flip=True)
  np.testing.assert_array_equal(np.asarray(again["input"]), np.asarray(out["input"]))
  other = run(jax.random.key(4, impl="rbg"), batch, crop_size=16, flip=True)
  assert not np.array_equal(np.asarray(other["input"]), np.asarray(out["input"]))
  # Each output is a crop of its own input, flipped or not.
  for i in range(4):
    crop = np.asarray(out["input"][i, ..., 0])
    found = [(t, l, f) for t in range(3) for l in range(3) for f in (False, True)
             if np.array_equal((x[i, t:t + 16, l:l + 16, 0])[:, ::-1] if f else x[i, t:t + 16, l:l + 16, 0], crop)]
    assert found


def test_training_batches_are_a_function_of_seed_and_step():
  config = _config(source="photos_grey", photo_size=32, photo_scale=0.25, num_train=5, num_test=2)
  stream = paired.train_batches(config, batch_size=2, seed=7)
  first = [next(stream) for _ in range(4)]  # Past the first epoch (5 pairs, 2 per batch).
  assert first[0]["input"].shape == (2, 18, 18, 1) and first[0]["target"].dtype == np.float32
  assert -1 <= first[0]["target"].min() and first[0]["target"].max() <= 1
  resumed = next(paired.train_batches(config, batch_size=2, seed=7, start_step=3))
  for key in ("input", "target"):
    np.testing.assert_array_equal(resumed[key], first[3][key])
  other = next(paired.train_batches(config, batch_size=2, seed=8))
  assert not np.array_equal(other["target"], first[0]["target"])
  test = paired.test_pairs(config)
  assert test["input"].shape == (2, 16, 16, 1) and test["target"].dtype == np.uint8
  assert paired.test_pairs(config) is test  # Cached.
  with pytest.raises(UserError, match="crop_size"):
    paired.check(_config(crop_size=20))
  with pytest.raises(UserError, match="unknown data.source"):
    paired.check(_config(source="nope"))
