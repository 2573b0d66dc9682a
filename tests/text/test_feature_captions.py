"""Captions from a tensorflow-datasets text feature (`data.caption_source = "feature"`).

The datasets are real tfds datasets, built here by `download_and_prepare` from the
builders of this module into a temporary data folder (array_record files; no network
and no TensorFlow: the images are given as PNG bytes, which tfds stores as they are),
then read by `aigc_jax` only through `data.name` and `data.data_dir`, as a user's config
names them. The builders are left out of the tfds catalog, so the library finds the
datasets by their prepared files, as it finds one prepared on another machine.
"""

import importlib.util
import io
import json
import os

import ml_collections
import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from aigc_jax.cli.main import main
from aigc_jax.data import captions, pipeline
from aigc_jax.errors import UserError

NAME = "captioned_squares"
TRAIN, TEST = range(8), range(8, 12)
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven")


def _png(image: np.ndarray) -> bytes:
  out = io.BytesIO()
  Image.fromarray(image).save(out, format="png")
  return out.getvalue()


def _square(i: int) -> bytes:
  """Example i's image: flat grey level 20 * i, RGB, of a size that is not the
  configured one (and not square for some), so reading must fit it."""
  return _png(np.full((10 + i % 3, 12, 3), 20 * i, np.uint8))


def _written(key: str, i: int):
  """What example i holds under text feature `key`, and the captions it should give."""
  if key == "caption":  # One string, one caption per line (blank lines and spaces dropped).
    return f"a grey square {i}\n\n  number {NUMBER_WORDS[i]}  \n", (f"a grey square {i}", f"number {NUMBER_WORDS[i]}")
  # A sequence of strings, each of which may hold several lines; an empty one (example
  # 5) gives one empty caption, which the encoder reads as padding only.
  if i == 5:
    return [], ("",)
  return [f"grey level {20 * i}", f"shade {i}\nflat {NUMBER_WORDS[i]}"], (
      f"grey level {20 * i}", f"shade {i}", f"flat {NUMBER_WORDS[i]}")


class CaptionedSquares(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """Flat grey squares with a class label and captions as a string and as a sequence."""

  VERSION = tfds.core.Version("1.0.0")

  def _info(self):
    return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
        "image": tfds.features.Image(shape=(None, None, 3)),
        "label": tfds.features.ClassLabel(names=("even", "odd")),
        "caption": tfds.features.Text(),
        "captions": tfds.features.Sequence(tfds.features.Text()),
    }))

  def _split_generators(self, dl_manager):
    del dl_manager  # Nothing to download.
    return {"train": self._generate_examples(TRAIN), "test": self._generate_examples(TEST)}

  def _generate_examples(self, indices):
    for i in indices:
      yield i, {"image": _square(i), "label": i % 2, "caption": _written("caption", i)[0],
                "captions": _written("captions", i)[0]}


class CocoCaptions(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """A few records in the shape of the catalog's coco_captions (its name, config and
  version, its caption feature: a sequence of {"id", "text"}), to read as it would be
  read once prepared."""

  name = "coco_captions"
  VERSION = tfds.core.Version("1.1.0")
  BUILDER_CONFIGS = [tfds.core.BuilderConfig(name="2014")]

  def _info(self):
    return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
        "image": tfds.features.Image(),
        "image/id": np.int64,
        "captions": tfds.features.Sequence({"id": np.int64, "text": tfds.features.Text()}),
    }))

  def _split_generators(self, dl_manager):
    del dl_manager
    return {"train": self._generate_examples(TRAIN), "val": self._generate_examples(TEST)}

  def _generate_examples(self, indices):
    for i in indices:
      texts = _written("captions", i)[0]
      yield i, {"image": _png(np.full((12, 10, 3), 20 * i, np.uint8)), "image/id": i,
                "captions": [{"id": 100 * i + j, "text": t} for j, t in enumerate(texts)]}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  root = str(tmp_path_factory.mktemp("tfds"))
  tfds.disable_progress_bar()
  for builder in (CaptionedSquares, CocoCaptions):
    builder(data_dir=root, file_format="array_record").download_and_prepare()
  return root


def _data(data_dir, key, resolution=8, channels=1):
  return ml_collections.ConfigDict({"name": NAME, "data_dir": data_dir, "download": False, "resolution": resolution,
                                    "channels": channels, "caption_source": "feature", "caption_key": key})


def _indices(images) -> np.ndarray:
  """Which example each image is: its flat grey level / 20 (exact after fitting)."""
  levels = pipeline.to_uint8(images)
  assert (levels == levels[:, :1, :1, :1]).all()
  return levels[:, 0, 0, 0].astype(int) // 20


@pytest.mark.parametrize("key, resolution, channels", [("caption", 8, 1), ("captions", 4, 3)])
def test_captions_read_equal_the_written_ones(data_dir, key, resolution, channels):
  for split_name, indices in (("train", TRAIN), ("test", TEST)):
    split = captions.load_split(_data(data_dir, key, resolution, channels), split_name)
    assert split.images.shape == (len(indices), resolution, resolution, channels)
    assert split.images.dtype == np.float32 and split.images.min() >= -1 and split.images.max() <= 1
    which = _indices(split.images)
    assert sorted(which) == list(indices)
    np.testing.assert_array_equal(split.labels, which % 2)
    assert split.labels.dtype == np.int32
    assert split.captions == tuple(_written(key, i)[1] for i in which)
    assert split.attributes is None


def test_a_missing_caption_key_is_one_line(data_dir):
  with pytest.raises(UserError, match=f"dataset '{NAME}' has no feature 'text'; set data.caption_key") as e:
    captions.load_split(_data(data_dir, "text"), "train")
  assert "\n" not in str(e.value)


@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is not None,
                    reason="with TensorFlow, tfds builds coco_captions from its catalog code")
def test_coco_captions_reads_from_its_files_without_tensorflow(data_dir):
  # The catalog's coco_captions needs TensorFlow to be constructed (its `_info` names
  # tf.int64); once prepared, the library reads its files without it.
  data = _data(data_dir, "captions")
  data.name = "coco_captions"
  assert pipeline.builder_for(data).info.full_name == "coco_captions/2014/1.1.0"
  split = captions.load_split(data, "val")
  assert split.images.shape == (len(TEST), 8, 8, 1) and split.labels is None
  assert split.captions == tuple(_written("captions", i)[1] for i in _indices(split.images))


def test_text_encoder_pre_trains_on_a_text_feature(data_dir, tmp_path, capsys):
  workdir = str(tmp_path / "encoder")
  assert main(["train", "--config", "text_encoder_digits:smoke", "--workdir", workdir, f"--config.data.name={NAME}",
               f"--config.data.data_dir={data_dir}", "--config.data.caption_source=feature",
               "--config.data.caption_key=captions", "--config.data.resolution=8"]) == 0
  with open(os.path.join(workdir, "config.json")) as f:
    vocab = json.load(f)["tokenizer"]["vocab"]
  assert {"grey", "level", "shade", "flat", "seven", "140"} <= set(vocab)
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    losses = [r["loss"] for r in map(json.loads, f) if "loss" in r]
  assert losses and np.isfinite(losses).all()
  assert os.path.exists(os.path.join(workdir, "samples", "step_0000004.png"))
  capsys.readouterr()
  assert main(["eval", "--workdir", workdir]) == 0
  result = json.loads(capsys.readouterr().out.strip())
  assert result["num_test"] == len(TEST) and 0.0 <= result["r_precision"] <= 1.0


def test_an_unknown_name_is_still_one_line(tmp_path):
  # Reading from files is the fallback only for prepared datasets; it finds none here.
  with pytest.raises(UserError, match="unknown dataset 'captioned_circles'") as e:
    pipeline.get_builder("captioned_circles", data_dir=str(tmp_path))
  assert "\n" not in str(e.value)


def test_an_unprepared_catalog_dataset_that_needs_tensorflow_says_so(tmp_path):
  """coco_captions' catalog code imports TensorFlow (not installed here): not prepared,
  the message says what to install and how to prepare it, not "unknown dataset"."""
  import importlib.util
  with pytest.raises(UserError, match="dataset 'coco_captions' is not prepared in ") as e:
    pipeline.get_builder("coco_captions", data_dir=str(tmp_path))
  assert "--config.data.download=True" in str(e.value)
  assert "unknown dataset" not in str(e.value) and "\n" not in str(e.value)
  if importlib.util.find_spec("tensorflow") is None:  # Else tfds builds it and only preparing is missing.
    assert "No module named 'tensorflow'" in str(e.value)
