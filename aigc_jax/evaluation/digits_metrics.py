"""`digits_is` and `digits_fid`: Inception Score and FID with the digits classifier.

`digits_is` is the Inception Score (10 splits) of the classifier's softmax; `digits_fid`
the Frechet distance between the classifier's 128-d features of the images and of the
real test split. `real_reference()` gives the same two numbers for real data: the IS of
the test split and the FID between the train and test splits, the ceiling a generator
can hope to reach.
"""

import functools

import numpy as np

from aigc_jax.evaluation import digits_classifier
from aigc_jax.metrics import fid_from_features, inception_score


@functools.lru_cache(maxsize=2)
def _test_features(data_dir=None):
  images, labels = digits_classifier.real_digits("test", data_dir)
  logits, feats = digits_classifier.classify(digits_classifier.load_params(), images)
  return logits, feats, labels


def digits_metrics(images_uint8: np.ndarray, data_dir=None, labels=None) -> dict:
  """Scores uint8 [N, H, W, C] digit images; with `labels`, also the accuracy against them."""
  logits, feats = digits_classifier.classify(digits_classifier.load_params(), images_uint8)
  _, test_feats, _ = _test_features(data_dir)
  is_mean, is_std = inception_score(logits, splits=10)
  out = {"digits_is": is_mean, "digits_is_std": is_std, "digits_fid": fid_from_features(feats, test_feats)}
  if labels is not None:
    out["conditional_accuracy"] = float(np.mean(logits.argmax(-1) == np.asarray(labels)))
  return out


def real_reference(data_dir=None) -> dict:
  """The ceiling: IS of the real test split, FID between real train and test splits."""
  test_logits, test_feats, test_labels = _test_features(data_dir)
  train_images, _ = digits_classifier.real_digits("train", data_dir)
  _, train_feats = digits_classifier.classify(digits_classifier.load_params(), train_images)
  is_mean, _ = inception_score(test_logits, splits=10)
  return {
      "real_digits_is": is_mean,
      "real_digits_fid": fid_from_features(train_feats, test_feats),
      "classifier_test_accuracy": float(np.mean(test_logits.argmax(-1) == test_labels)),
  }
