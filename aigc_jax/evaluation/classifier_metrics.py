"""IS, FID and conditional accuracy in the space of a dataset's own classifier
(`evaluation.classifier`), for runs trained on a labelled dataset of your own.

The same figures `digits_metrics` gives for `digits`, with any classifier file:
`classifier_is` is the Inception Score (10 splits) of its softmax, `classifier_fid` the
Frechet distance between its 128-d features of the images and of the run's real test
split, and, for a class-conditional run, `conditional_accuracy` the share of images the
classifier assigns to the class they were generated for. `real_reference` gives the
ceiling on real data: the IS of the test split and the FID between the train and test
splits, both read at the run's resolution as the generated images are.
"""

import numpy as np

from aigc_jax.data import pipeline
from aigc_jax.errors import UserError
from aigc_jax.evaluation import classifier as classifier_lib
from aigc_jax.metrics import fid_from_features, inception_score

# At most this many train images make the real train-vs-test FID (all of a small dataset).
REFERENCE_TRAIN_IMAGES = 10_000


def check_labels(trained: classifier_lib.Trained, data_config):
  """The classifier must know the run's classes, in the same order, for its labels to mean
  the same thing; a one-line error otherwise."""
  names = tuple(pipeline.dataset_info(data_config).label_names)
  if names != trained.label_names:
    raise UserError(f"the classifier's labels ({', '.join(trained.label_names)}) are not the run's "
                    f"({', '.join(names) or 'none'}); train one on the run's data")


def classifier_metrics(trained: classifier_lib.Trained, data_config, images_uint8: np.ndarray,
                       labels=None) -> dict:
  """Scores uint8 [N, H, W, C] generated images against the test split of `data_config`
  (the run's `config.data`); with `labels` [N] (the requested class indices) also the
  conditional accuracy."""
  logits, feats = classifier_lib.classify(trained, images_uint8)
  test_images, _ = classifier_lib.split_arrays(data_config, "test")
  _, test_feats = classifier_lib.classify(trained, test_images)
  is_mean, is_std = inception_score(logits, splits=10)
  out = {"classifier_is": is_mean, "classifier_is_std": is_std,
         "classifier_fid": fid_from_features(feats, test_feats)}
  if labels is not None:
    check_labels(trained, data_config)
    out["conditional_accuracy"] = float(np.mean(logits.argmax(-1) == np.asarray(labels)))
  return out


def real_reference(trained: classifier_lib.Trained, data_config) -> dict:
  """The ceiling: IS of the real test split, FID between (at most 10,000) train images and
  the test split, and the classifier's accuracy on this test split."""
  test_images, test_labels = classifier_lib.split_arrays(data_config, "test")
  train_images, _ = classifier_lib.split_arrays(data_config, "train", REFERENCE_TRAIN_IMAGES)
  test_logits, test_feats = classifier_lib.classify(trained, test_images)
  _, train_feats = classifier_lib.classify(trained, train_images)
  is_mean, _ = inception_score(test_logits, splits=10)
  out = {"real_classifier_is": is_mean, "real_classifier_fid": fid_from_features(train_feats, test_feats)}
  if test_labels is not None and tuple(pipeline.dataset_info(data_config).label_names) == trained.label_names:
    out["classifier_test_accuracy"] = float(np.mean(test_logits.argmax(-1) == test_labels))
  return out
