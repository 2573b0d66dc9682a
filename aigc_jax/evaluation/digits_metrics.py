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
from aigc_jax import metrics
from aigc_jax.metrics import fid_from_features, inception_score


@functools.lru_cache(maxsize=2)
def _test_features(data_dir=None):
  images, labels = digits_classifier.real_digits("test", data_dir)
  logits, feats = digits_classifier.classify(digits_classifier.load_params(), images)
  return logits, feats, labels


def digits_metrics(images_uint8: np.ndarray, data_dir=None, labels=None) -> dict:
  """Scores uint8 [N, H, W, C] digit images in the classifier's feature space: IS, FID,
  improved precision and recall (k = 3) and density and coverage (k = 5) against the
  test split; with `labels` [N] (the requested classes), also the conditional accuracy
  and the intra-class FID (the mean over classes of each class's FID against that
  class's test images)."""
  logits, feats = digits_classifier.classify(digits_classifier.load_params(), images_uint8)
  _, test_feats, test_labels = _test_features(data_dir)
  is_mean, is_std = inception_score(logits, splits=10)
  knn = metrics.knn_metrics(test_feats, feats)
  out = {"digits_is": is_mean, "digits_is_std": is_std, "digits_fid": fid_from_features(feats, test_feats),
         **{f"digits_{name}": float(value) for name, value in knn._asdict().items()}}
  if labels is not None:
    labels = np.asarray(labels)
    out["conditional_accuracy"] = float(np.mean(logits.argmax(-1) == labels))
    out["digits_intra_fid"] = float(metrics.intra_class_fid(metrics.features_by_class(test_feats, test_labels),
                                                            metrics.features_by_class(feats, labels))[0])
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
