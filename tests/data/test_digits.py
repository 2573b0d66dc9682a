import os

import numpy as np
import ml_collections
import pytest

from aigc_jax.data import digits, pipeline
from aigc_jax.errors import UserError


def _cfg(resolution=16, channels=1):
  return ml_collections.ConfigDict({"name": "digits", "data_dir": None, "resolution": resolution,
                                    "channels": channels})


def test_builder_splits_labels_and_pixels():
  builder = pipeline.get_builder("digits")
  assert builder.info.splits["train"].num_examples == 1797 - digits.NUM_TEST
  assert builder.info.splits["test"].num_examples == digits.NUM_TEST
  assert builder.info.features["label"].names == [str(i) for i in range(10)]
  source = builder.as_data_source(split="test")
  record = source[0]
  assert record["image"].shape == (8, 8, 1) and record["image"].dtype == np.uint8
  images = np.stack([source[i]["image"] for i in range(len(source))])
  assert images.max() == 255 and images.min() == 0


def test_split_is_fixed_disjoint_and_complete():
  a, b = digits.split_indices(), digits.split_indices()
  np.testing.assert_array_equal(a["test"], b["test"])
  assert not set(a["train"]) & set(a["test"])
  assert len(a["train"]) + len(a["test"]) == 1797


def test_train_batches_shape_range_and_seeded_shuffle():
  ds = pipeline.make_dataset(_cfg(), "train", batch_size=32, train=True, seed=0)
  batch = ds[0]
  assert batch["image"].shape == (32, 16, 16, 1) and batch["image"].dtype == np.float32
  assert batch["image"].min() >= -1.0 and batch["image"].max() <= 1.0
  assert batch["label"].shape == (32,)
  again = pipeline.make_dataset(_cfg(), "train", batch_size=32, train=True, seed=0)[0]
  other = pipeline.make_dataset(_cfg(), "train", batch_size=32, train=True, seed=1)[0]
  np.testing.assert_array_equal(batch["image"], again["image"])
  assert not np.array_equal(batch["label"], other["label"])


def test_epochs_are_reshuffled_and_cover_the_split():
  n = 1797 - digits.NUM_TEST
  ds = pipeline.make_dataset(_cfg(), "train", batch_size=n, train=True, seed=0)
  first, second = ds[0]["label"], ds[1]["label"]
  assert sorted(first) == sorted(second) and not np.array_equal(first, second)


def test_eval_pass_keeps_the_last_partial_batch():
  ds = pipeline.make_dataset(_cfg(), "test", batch_size=100, train=False)
  sizes = [len(ds[i]["label"]) for i in range(len(ds))]
  assert sizes == [100, 100, 100, 60]


def test_process_shards_are_disjoint():
  kw = dict(batch_size=digits.NUM_TEST, train=False, process_count=2)
  a = pipeline.make_dataset(_cfg(), "test", process_index=0, **kw)[0]["image"]
  b = pipeline.make_dataset(_cfg(), "test", process_index=1, **kw)[0]["image"]
  assert len(a) + len(b) == digits.NUM_TEST
  flat_a = {x.tobytes() for x in a}
  assert not any(x.tobytes() in flat_a for x in b if x.std() > 0)


def test_resolution_and_channels():
  batch = pipeline.make_dataset(_cfg(32, 3), "test", batch_size=4, train=False)[0]
  assert batch["image"].shape == (4, 32, 32, 3)


def test_unknown_split_and_unprepared_catalog_dataset_are_user_errors(tmp_path):
  with pytest.raises(UserError, match="no split 'validation'"):
    pipeline.make_dataset(_cfg(), "validation", batch_size=4, train=False)
  with pytest.raises(UserError, match="not prepared"):
    pipeline.get_builder("mnist", data_dir=str(tmp_path))


def test_a_dataset_another_process_prepares_meanwhile_is_read(tmp_path, monkeypatch):
  """Trainers starting together on a fresh machine all prepare digits; tfds' rename of the
  slower one's finished copy finds the dataset there and raises. That process must read
  the other's copy (on a GPU machine, 5 of 6 trainers started at once failed so)."""
  calls = []
  original = digits.Digits._split_generators

  def split_generators(self, dl_manager):
    if not calls:  # The other process: prepares the same dataset while this one is at it.
      calls.append(1)
      digits.Digits(data_dir=str(tmp_path), file_format="array_record").download_and_prepare()
    return original(self, dl_manager)

  monkeypatch.setattr(digits.Digits, "_split_generators", split_generators)
  builder = pipeline.get_builder("digits", data_dir=str(tmp_path))
  assert calls == [1]
  assert builder.info.splits["train"].num_examples == 1437
  assert os.listdir(tmp_path / "digits") == ["1.0.0"]  # No half-written copy left behind.


def test_uint8_round_trip():
  x = np.arange(256, dtype=np.uint8)
  np.testing.assert_array_equal(pipeline.to_uint8(pipeline.to_model_range(x)), x)
