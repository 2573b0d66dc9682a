"""Captions as data: a folder with a .txt beside each image, and the seeded batches."""

import warnings

import ml_collections
import numpy as np
import pytest
from PIL import Image

from aigc_jax.data import captions
from aigc_jax.errors import UserError
from aigc_jax.text import tokenizer


def _folder(root, n=6):
  for i in range(n):
    Image.fromarray(np.full((10, 12, 3), 20 * i, np.uint8)).save(root / f"img{i}.png")
    if i != 5:  # The last image has no caption.
      (root / f"img{i}.txt").write_text(f"a picture {i}\n\nanother caption of {i}\n")
  return ml_collections.ConfigDict({"name": "folder", "path": str(root), "resolution": 8, "channels": 1,
                                    "caption_source": "files", "caption_key": "caption", "test_fraction": 0.0})


def test_folder_captions_one_per_line(tmp_path):
  data = _folder(tmp_path)
  with pytest.warns(UserWarning, match="1 image"):
    split = captions.load_split(data, "train")
  assert split.images.shape == (5, 8, 8, 1) and split.images.dtype == np.float32
  assert split.labels is None
  assert split.captions[2] == ("a picture 2", "another caption of 2")
  # The image with value 40 (img2) is the one captioned "2".
  np.testing.assert_allclose(split.images[2], 40 / 127.5 - 1, atol=1e-6)


def test_batches_are_a_pure_function_of_seed_and_step(tmp_path):
  data = _folder(tmp_path)
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    split = captions.load_split(data, "train")
  tok = tokenizer.build(split.all_captions())
  stream = captions.train_batches(split, tok, 6, batch_size=2, seed=3)
  first = [next(stream) for _ in range(5)]
  resumed = captions.train_batches(split, tok, 6, batch_size=2, seed=3, start_step=3)
  for a, b in zip(first[3:], [next(resumed), next(resumed)]):
    np.testing.assert_array_equal(a["tokens"], b["tokens"])
    np.testing.assert_array_equal(a["image"], b["image"])
  assert first[0]["tokens"].shape == (2, 6)
  # Each caption names its image's number.
  for batch in first:
    for image, ids in zip(batch["image"], batch["tokens"]):
      number = int(round((image[0, 0, 0] + 1) * 127.5 / 20))
      assert str(number) in tok.decode(ids).split()


def test_caption_source_errors(tmp_path):
  data = _folder(tmp_path)
  data.caption_source = "nope"
  with pytest.raises(UserError, match="caption_source"):
    captions.check(data)
  data.caption_source = "digits"
  with pytest.raises(UserError, match="digits"):
    captions.check(data)
