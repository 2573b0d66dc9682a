"""CycleGAN data: embedded photo crops, image folders (bad files skipped), tfds (mocked)."""

import numpy as np
import pytest
from PIL import Image

from aigc_jax import configlib
from aigc_jax.data import cyclegan_data, image_folder, photos
from aigc_jax.errors import UserError


def _config(**data):
  config = configlib.load_config("cyclegan_photos:smoke")
  for key, value in data.items():
    config.data[key] = value
  return config


def _write(path, size, color):
  Image.new("RGB", size, color).save(path)


def test_photo_crops_are_fixed_and_differ_between_domains_and_splits():
  a = photos.crops("A", "train", 5, size=32, scale=0.25)
  assert a.shape == (5, 32, 32, 3) and a.dtype == np.uint8
  np.testing.assert_array_equal(a, photos.crops("A", "train", 5, size=32, scale=0.25))
  assert not np.array_equal(a, photos.crops("B", "train", 5, size=32, scale=0.25))
  assert not np.array_equal(a, photos.crops("A", "test", 5, size=32, scale=0.25))
  # The pagoda's sky and roofs and the dahlia's orange petals differ in colour.
  assert not np.allclose(a.mean((0, 1, 2)), photos.crops("B", "train", 5, size=32, scale=0.25).mean((0, 1, 2)),
                         atol=10)
  with pytest.raises(UserError, match="do not fit"):
    photos.crops("A", "train", 1, size=200, scale=0.25)


def test_folder_loading_skips_bad_files_with_a_warning_naming_them(tmp_path):
  _write(tmp_path / "b.png", (7, 5), "red")
  Image.new("L", (4, 6), 128).save(tmp_path / "a.jpg")  # Grey becomes RGB.
  (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
  (tmp_path / "notes.txt").write_text("hello")
  (tmp_path / ".DS_Store").write_bytes(b"\0\1")
  (tmp_path / "sub").mkdir()
  with pytest.warns(UserWarning) as record:
    loaded = image_folder.load_image_folder(tmp_path)
  assert [name for name, _ in loaded] == ["a.jpg", "b.png"]
  assert loaded[0][1].shape == (6, 4, 3) and loaded[1][1].shape == (5, 7, 3)
  assert loaded[1][1].dtype == np.uint8 and tuple(loaded[1][1][0, 0]) == (255, 0, 0)
  messages = " ".join(str(w.message) for w in record)
  assert "broken.jpg" in messages and "notes.txt" in messages and ".DS_Store" not in messages
  empty = tmp_path / "sub"
  with pytest.raises(UserError, match="no readable images"):
    image_folder.load_image_folder(empty)


def test_folder_source_gives_unpaired_batches_and_falls_back_to_train_for_test(tmp_path):
  for domain, color in (("A", "red"), ("B", "blue")):
    (tmp_path / f"train{domain}").mkdir()
    for i in range(3):
      _write(tmp_path / f"train{domain}" / f"{i}.png", (40 + i, 30), color)
  (tmp_path / "trainA" / "bad.png").write_bytes(b"garbage")
  (tmp_path / "testB").mkdir()
  _write(tmp_path / "testB" / "t.jpg", (50, 50), "blue")
  config = _config(source="folder", path=str(tmp_path))
  with pytest.warns(UserWarning, match="bad.png"):
    batch = next(cyclegan_data.train_batches(config, 0))
  assert set(batch) == {"A", "B"}
  assert batch["A"].shape == batch["B"].shape == (1, 36, 36, 3) and batch["A"].dtype == np.float32
  np.testing.assert_allclose(batch["A"][0, 10, 10], [1, -1, -1])  # Red, in [-1, 1].
  with pytest.warns(UserWarning, match="testA"):
    test_a = cyclegan_data.test_images(config.data, "A")
  assert test_a.shape == (3, 32, 32, 3)  # Train images at crop size, for grids and eval.
  assert cyclegan_data.test_images(config.data, "B").shape == (1, 32, 32, 3)
  with pytest.raises(UserError, match="trainA/ and trainB/"):
    next(cyclegan_data.train_batches(_config(source="folder", path=str(tmp_path / "testB")), 0))


def test_batches_are_a_function_of_seed_and_step():
  config = _config()
  from_zero = cyclegan_data.train_batches(config, 0)
  first = [next(from_zero) for _ in range(4)]
  resumed = next(cyclegan_data.train_batches(config, 3))
  for domain in "AB":
    np.testing.assert_array_equal(resumed[domain], first[3][domain])
  config.seed = 1
  other = next(cyclegan_data.train_batches(config, 3))
  assert not np.array_equal(other["A"], first[3]["A"])
  assert min(np.min(b["A"]) for b in first) >= -1 and max(np.max(b["B"]) for b in first) <= 1


def test_tfds_cycle_gan_source_reads_the_four_splits():
  tfds = pytest.importorskip("tensorflow_datasets")
  config = _config(source="tfds", name="cycle_gan/horse2zebra", download=True)
  # mock_data makes random images of random sizes for every split, without TensorFlow.
  with tfds.testing.mock_data(num_examples=3):
    batch = next(cyclegan_data.train_batches(config, 0))
    test_b = cyclegan_data.test_images(config.data, "B")
  assert batch["A"].shape == batch["B"].shape == (1, 36, 36, 3)
  assert test_b.shape == (3, 32, 32, 3) and test_b.dtype == np.uint8


def test_unknown_source_is_a_user_error():
  with pytest.raises(UserError, match="unknown data.source"):
    cyclegan_data.domain_images(_config(source="nope").data, "A", "train")
