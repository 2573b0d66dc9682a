import numpy as np

from aigc_jax.evaluation import digits_classifier, digits_metrics


def test_shipped_classifier_reaches_97_percent_on_the_test_split():
  images, labels = digits_classifier.real_digits("test")
  logits, features = digits_classifier.classify(digits_classifier.load_params(), images)
  assert logits.shape == (len(labels), 10) and features.shape == (len(labels), 128)
  assert np.mean(logits.argmax(-1) == labels) >= 0.97


def test_real_data_scores_high_and_a_collapsed_generator_scores_low():
  images, labels = digits_classifier.real_digits("test")
  real = digits_metrics.digits_metrics(images, labels=labels)
  assert real["digits_is"] > 8.0
  assert real["digits_fid"] < 1e-6  # The test split against itself.
  assert real["conditional_accuracy"] >= 0.97
  collapsed = digits_metrics.digits_metrics(np.repeat(images[:1], 200, axis=0))
  assert collapsed["digits_is"] < 1.5
  assert collapsed["digits_fid"] > 10 * digits_metrics.real_reference()["real_digits_fid"]


def test_inputs_of_other_sizes_and_rgb_are_accepted():
  images, _ = digits_classifier.real_digits("test")
  big = np.repeat(np.repeat(images[:50], 2, axis=1), 2, axis=2)
  rgb = np.repeat(big, 3, axis=-1)
  a, _ = digits_classifier.classify(digits_classifier.load_params(), images[:50])
  b, _ = digits_classifier.classify(digits_classifier.load_params(), rgb)
  assert np.mean(a.argmax(-1) == b.argmax(-1)) >= 0.9


def test_an_8x8_digit_is_scored_as_the_16x16_pipeline_digit():
  """diffusion_digits samples at the digits' own 8x8: the evaluator's input from an 8x8
  image is the pipeline's 16x16 image of the same digit, bit for bit."""
  from ml_collections import ConfigDict
  from aigc_jax.data import pipeline
  cfg = ConfigDict({"name": "digits", "data_dir": None, "resolution": 8, "channels": 1})
  batch = pipeline.make_dataset(cfg, "test", batch_size=10_000, train=False, process_index=0, process_count=1)[0]
  small = pipeline.to_uint8(batch["image"])
  images, labels = digits_classifier.real_digits("test")
  assert small.shape == (len(images), 8, 8, 1)
  np.testing.assert_array_equal(np.asarray(batch["label"]), labels)
  np.testing.assert_array_equal(digits_classifier.prepare(small), digits_classifier.prepare(images))
