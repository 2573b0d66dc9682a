"""`digits`: the UCI handwritten digits that ship inside scikit-learn, as a tfds dataset.

1797 grayscale 8x8 images of the digits 0-9 (`sklearn.datasets.load_digits`), with
pixel values 0..16 rescaled to uint8 0..255. Because the data are inside a dependency,
building this dataset needs no network, so the default training run works on a fresh,
offline machine.

The split is fixed: a permutation drawn with `SPLIT_SEED` puts `NUM_TEST` images in
`test` and the rest in `train`, so every user gets the same evaluation set.

Features are Tensor features (not Image features) so that building and reading the
array_record files needs no TensorFlow.
"""

import numpy as np
import tensorflow_datasets as tfds

SPLIT_SEED = 20240101
NUM_TEST = 360
CLASS_NAMES = tuple(str(i) for i in range(10))


def load_digits_arrays():
  """Returns `(images, labels)`: uint8 [1797, 8, 8, 1] in 0..255 and int64 [1797]."""
  from sklearn.datasets import load_digits  # Imported here: only this builder needs it.
  bunch = load_digits()
  images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
  return images, bunch.target.astype(np.int64)


def split_indices():
  """Returns `{"train": idx, "test": idx}`, the fixed seeded split of the 1797 images."""
  n = 1797
  perm = np.random.default_rng(SPLIT_SEED).permutation(n)
  return {"train": np.sort(perm[NUM_TEST:]), "test": np.sort(perm[:NUM_TEST])}


class Digits(tfds.core.GeneratorBasedBuilder):
  """scikit-learn's 8x8 handwritten digits, with a fixed seeded train/test split."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release."}

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self,
        description=__doc__,
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Tensor(shape=(8, 8, 1), dtype=np.uint8),
            "label": tfds.features.ClassLabel(names=CLASS_NAMES),
        }),
        supervised_keys=("image", "label"),
        homepage="https://archive.ics.uci.edu/dataset/80",
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # Nothing to download: the data ship with scikit-learn.
    return {name: self._generate_examples(idx) for name, idx in split_indices().items()}

  def _generate_examples(self, indices):
    images, labels = load_digits_arrays()
    for i in indices:
      yield int(i), {"image": images[i], "label": int(labels[i])}
