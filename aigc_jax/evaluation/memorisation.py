"""The memorisation share that `aigc eval` reports for generated images, and its
reference on the real test split.

The share (`aigc_jax.metrics.memorisation`) is measured in the evaluator's feature
space: on digits the shipped classifier's 128-d features, always (the 1,437 training
images cost nothing to featurise); on other data Inception pool3, when asked for with
`--metrics memorisation`, since that runs the network over the whole training split.
Keys: `digits_memorised_share` and `digits_memorised_share_test_reference`, or
`memorised_share` and `memorised_share_test_reference`.
"""

import functools

import numpy as np

from aigc_jax.evaluation import digits_classifier
from aigc_jax.metrics import memorisation

# The `--metrics` name that asks for the Inception-space share.
METRIC = "memorisation"


@functools.lru_cache(maxsize=2)
def _digits_reference(data_dir=None):
  """(train features, the training set's own nearest neighbours, the test split's share)."""
  params = digits_classifier.load_params()
  _, train = digits_classifier.classify(params, digits_classifier.real_digits("train", data_dir)[0])
  _, test = digits_classifier.classify(params, digits_classifier.real_digits("test", data_dir)[0])
  train_nearest = memorisation.nearest_neighbours(train, train, exclude_self=True)
  return train, train_nearest, memorisation.memorisation(train, test, train_nearest=train_nearest).share


def digits_shares(images_uint8: np.ndarray, data_dir=None) -> dict:
  """The memorised shares of uint8 digit images [N, H, W, C] and of the real test split,
  in the digits classifier's feature space."""
  train, train_nearest, reference = _digits_reference(data_dir)
  _, feats = digits_classifier.classify(digits_classifier.load_params(), images_uint8)
  share = memorisation.memorisation(train, feats, train_nearest=train_nearest).share
  return {"digits_memorised_share": share, "digits_memorised_share_test_reference": reference}


def inception_shares(data, images_uint8: np.ndarray, inception_weights=None) -> dict:
  """The memorised shares of uint8 images [N, H, W, C] and of the real test split of the
  run's dataset (`data`, its `ImageData` options), in Inception pool3 space (the whole training split is
  featurised: slow on a CPU for a large dataset; split over the processes of a
  multi-process run)."""
  from aigc_jax.data import load_images
  from aigc_jax.metrics import images as images_metrics
  from aigc_jax.metrics import inception
  variables = inception.load_params(images_metrics.require_inception_weights(inception_weights))
  features = {}
  for name, images in (("samples", images_uint8),
                       ("train", load_images(data.name, "train", data.config)),
                       ("test", load_images(data.name, "test", data.config))):
    # Each process of a multi-process run featurises its share; all get every feature.
    features[name] = images_metrics.inception_pool3(variables, images)
  share, reference = memorisation.memorised_shares(features["train"], features["samples"], features["test"])
  return {"memorised_share": share, "memorised_share_test_reference": reference}
