"""The VAE objective's pieces against direct numpy / scipy computations in float64."""

import dataclasses

import numpy as np
import pytest
from scipy import stats

from aigc_jax import losses, options
from aigc_jax.errors import UserError
from aigc_jax.losses import LikelihoodOptions

RNG = np.random.default_rng(0)


def _grid_values(shape, num_bins=256):
  """Random images on the [-1, 1] grid of stored 8-bit values, with both end values."""
  v = RNG.integers(0, num_bins, size=shape)
  v.flat[0], v.flat[1] = 0, num_bins - 1
  return (v / ((num_bins - 1) / 2.0) - 1.0).astype(np.float32)


def test_gaussian_kl_matches_numpy():
  m1, lv1, m2, lv2 = (RNG.normal(size=(3, 5)).astype(np.float32) for _ in range(4))
  v1, v2 = np.exp(lv1.astype(np.float64)), np.exp(lv2.astype(np.float64))
  expected = 0.5 * np.sum(np.log(v2 / v1) + (v1 + (m1 - m2) ** 2) / v2 - 1.0, axis=-1)
  np.testing.assert_allclose(losses.gaussian_kl(m1, lv1, m2, lv2), expected, rtol=1e-5, atol=1e-5)
  # Against the standard normal prior, the default.
  expected = 0.5 * np.sum(v1 + m1.astype(np.float64) ** 2 - 1.0 - lv1, axis=-1)
  np.testing.assert_allclose(losses.gaussian_kl(m1, lv1), expected, rtol=1e-5, atol=1e-5)


def test_kl_of_identical_distributions_is_zero():
  m, lv = RNG.normal(size=(4, 7)).astype(np.float32), RNG.normal(size=(4, 7)).astype(np.float32)
  np.testing.assert_allclose(losses.gaussian_kl(m, lv, m, lv), np.zeros(4), atol=1e-6)
  np.testing.assert_allclose(losses.gaussian_kl(np.zeros((2, 3)), np.zeros((2, 3))), np.zeros(2), atol=0)


def test_gaussian_log_density_matches_scipy():
  z, m, lv = (RNG.normal(size=(2, 3, 4)) for _ in range(3))
  expected = stats.norm.logpdf(z, m, np.exp(lv / 2)).sum(-1)
  got = losses.gaussian_log_density(z.astype(np.float32), m.astype(np.float32), lv.astype(np.float32))
  np.testing.assert_allclose(got, expected, rtol=1e-5)
  np.testing.assert_allclose(losses.gaussian_log_density(z.astype(np.float32)),
                             stats.norm.logpdf(z).sum(-1), rtol=1e-5)


def test_bernoulli_log_likelihood_matches_numpy():
  logits = RNG.normal(scale=3.0, size=(3, 4, 4, 1)).astype(np.float32)
  targets = (RNG.random((3, 4, 4, 1)) > 0.5).astype(np.float32)
  p = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
  expected = np.sum(targets * np.log(p) + (1 - targets) * np.log(1 - p), axis=(1, 2, 3))
  np.testing.assert_allclose(losses.bernoulli_log_likelihood(logits, targets), expected, rtol=1e-5)


@pytest.mark.parametrize("name,cdf", [
    ("discretized_logistic_log_likelihood", stats.logistic.cdf),
    ("discretized_gaussian_log_likelihood", stats.norm.cdf),
])
def test_discretized_log_likelihood_matches_direct_cdf_differences(name, cdf):
  x = _grid_values((2, 3, 3, 2))
  # Within a few scales of the data, where direct float64 CDF differences are accurate
  # (the far tails are checked for finiteness below).
  mean = np.clip(x + RNG.uniform(-0.3, 0.3, size=x.shape), -1, 1).astype(np.float32)
  log_scale = RNG.uniform(-3, -1, size=x.shape).astype(np.float32)
  x64, m64, s64 = x.astype(np.float64), mean.astype(np.float64), np.exp(log_scale.astype(np.float64))
  upper = np.where(x64 > 1 - 1e-6, 1.0, cdf((x64 + 1 / 255 - m64) / s64))
  lower = np.where(x64 < -1 + 1e-6, 0.0, cdf((x64 - 1 / 255 - m64) / s64))
  expected = np.log(upper - lower).sum(axis=(1, 2, 3))
  got = getattr(losses, name)(x, mean, log_scale)
  np.testing.assert_allclose(got, expected, rtol=1e-4)


@pytest.mark.parametrize("name", ["discretized_logistic_log_likelihood", "discretized_gaussian_log_likelihood"])
def test_discretized_probabilities_sum_to_one_and_tails_stay_finite(name):
  fn = getattr(losses, name)
  x = (np.arange(256) / 127.5 - 1.0).astype(np.float32).reshape(256, 1)  # Every value, once.
  for mean, log_scale in [(0.3, -2.0), (-0.99, -5.0), (0.5, -7.0)]:
    log_p = fn(x, np.full_like(x, mean), np.full_like(x, log_scale))
    np.testing.assert_allclose(np.exp(np.asarray(log_p, np.float64)).sum(), 1.0, rtol=1e-4)
  # A sharp distribution far from the value: a large but finite cost, no NaN or inf.
  far = fn(np.full((1, 1), 0.9, np.float32), np.full((1, 1), -0.9, np.float32), np.full((1, 1), -7.0, np.float32))
  assert np.isfinite(far).all() and far[0] < -100


def test_iwae_bound_is_at_least_the_mean_log_weight_and_k1_is_the_weight():
  log_w = RNG.normal(scale=2.0, size=(50, 6)).astype(np.float32)
  bound = np.asarray(losses.iwae_log_likelihood(log_w))
  w64 = log_w.astype(np.float64)
  expected = np.log(np.mean(np.exp(w64), axis=0))
  np.testing.assert_allclose(bound, expected, rtol=1e-5)
  assert (bound >= w64.mean(axis=0) - 1e-5).all()  # Jensen: the bound beats the ELBO estimate.
  np.testing.assert_allclose(losses.iwae_log_likelihood(log_w[:1]), log_w[0], rtol=1e-6)


def test_negative_elbo_weights_the_kl():
  log_px, kl = np.array([-10.0, -20.0]), np.array([1.0, 2.0])
  np.testing.assert_allclose(losses.negative_elbo(log_px, kl), [11.0, 22.0])
  np.testing.assert_allclose(losses.negative_elbo(log_px, kl, beta=0.5), [10.5, 21.0])


def _likelihood(name, **changes):
  """A pixel model's options: the shipped configs' values (configs/vae_digits.py), changed."""
  defaults = {"name": name, "fixed_scale": None, "min_log_scale": -7.0, "num_bins": 256, "binarize_threshold": 128}
  return LikelihoodOptions(**{**defaults, **changes})


def test_likelihood_registry():
  lik = losses.get_likelihood(_likelihood("bernoulli", binarize_threshold=1))
  stored = np.array([0, 1, 0, 1], np.float32).reshape(1, 2, 2, 1)
  inputs, targets = lik.prepare(stored / 127.5 - 1.0)  # Data stored as 0/1, as binarized_mnist.
  np.testing.assert_array_equal(targets, stored)
  np.testing.assert_array_equal(inputs, 2 * stored - 1)
  fixed = losses.get_likelihood(_likelihood("discretized_gaussian", fixed_scale=0.1))
  learned = losses.get_likelihood(_likelihood("discretized_logistic", fixed_scale=None))
  assert (lik.num_params, fixed.num_params, learned.num_params) == (1, 1, 2)
  # An unknown name is refused when the options are checked (at config load).
  with pytest.raises(UserError, match="unknown likelihood.name 'poisson'"):
    _likelihood("poisson").check()
  with pytest.raises(UserError, match="unknown likelihood.name 'poisson'"):
    options.parse(LikelihoodOptions, dataclasses.asdict(_likelihood("poisson")))
  with pytest.raises(UserError, match="likelihood.fixed_scale must be > 0"):
    _likelihood("discretized_gaussian", fixed_scale=0.0).check()
