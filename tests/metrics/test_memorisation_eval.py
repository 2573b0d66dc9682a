"""`aigc eval` reports the memorised share (`evaluation.evaluate`): a tiny GAN on digits, a generator that
copies its training images, and the Inception-space share with `--metrics memorisation`."""

import jax
import numpy as np
import pytest

from aigc_jax import configlib, evaluation, inference
from aigc_jax.data import load_images
from aigc_jax.evaluation import digits_classifier, run_eval
from aigc_jax.inference import gan as gan_inference
from aigc_jax.metrics import memorisation
from aigc_jax.train import task

KEYS = ("digits_memorised_share", "digits_memorised_share_test_reference")


@pytest.fixture(scope="module")
def gan_run():
  """A freshly initialised 8x8 DCGAN (the smallest, quick to compile) as a loaded run:
  what is tested is the evaluation, not the training."""
  previous = jax.config.jax_default_prng_impl
  jax.config.update("jax_default_prng_impl", "rbg")  # Compiles far faster than threefry.
  config = configlib.load_config("dcgan_digits:smoke")
  config.data.resolution = 8
  family, opts = task.parse_config(config)
  state = family.init_state(opts, jax.random.key(0))
  yield inference.Run("", config, opts, family, state)
  jax.config.update("jax_default_prng_impl", previous)


def _eval(run):
  return evaluation.evaluate(run, num_samples=50)


def test_gan_eval_reports_the_share_and_the_test_reference(gan_run):
  result = _eval(gan_run)
  assert all(0.0 <= result[k] <= 1.0 for k in KEYS)
  # The reference is the definition applied to the real test split in the same space.
  params = digits_classifier.load_params()
  train = digits_classifier.classify(params, digits_classifier.real_digits("train")[0])[1]
  test = digits_classifier.classify(params, digits_classifier.real_digits("test")[0])[1]
  assert result[KEYS[1]] == memorisation.memorised_share(train, test)
  # Unseen real digits fall inside a training image's gap about as often as not (i.i.d.
  # points would, by symmetry), far from the share 1 of copies.
  assert 0.3 < result[KEYS[1]] < 0.6


def test_a_generator_that_copies_its_training_images_is_caught(gan_run, monkeypatch):
  train = digits_classifier.real_digits("train")[0]
  monkeypatch.setattr(gan_inference, "sample", lambda run, key, num: train[:num])
  result = _eval(gan_run)
  assert result[KEYS[0]] == 1.0 and result[KEYS[0]] > result[KEYS[1]]


def test_inception_space_share_with_metrics_memorisation(fake_network):
  # The fake network (tests/metrics/conftest.py) stands in for Inception: linear features.
  data = task.ImageData(name="digits", resolution=8, channels=1,
                        config=configlib.load_config("dcgan_digits").data)
  train = load_images("digits", "train")
  result = run_eval.generator_metrics(data, np.concatenate([train[:30], train[-30:]]), step=0,
                                      metrics=["memorisation"], inception_weights=str(fake_network))
  assert result["memorised_share"] == 1.0 and result["digits_memorised_share"] == 1.0
  assert 0.0 <= result["memorised_share_test_reference"] < 0.5
  assert "fid" not in result  # Only what was asked for.
