"""Fréchet distance, streaming statistics and the statistics file format."""

import contextlib
import io

import numpy as np
import pytest

from aigc_jax.errors import UserError
from aigc_jax.metrics import (FeatureStats, fid_from_features, frechet_distance, load_stats,
                              save_stats)


def gaussian_features(seed, n, d, shift=0.0):
  rng = np.random.default_rng(seed)
  mixing = rng.normal(size=(d, d)) / np.sqrt(d)  # correlated features, like pool3
  return np.abs(rng.normal(size=(n, d)) @ mixing + shift)


def stats(features):
  return FeatureStats().update(features).mean_cov()


def test_feature_stats_match_numpy_in_any_batching():
  feats = gaussian_features(0, 103, 16).astype(np.float32)
  acc = FeatureStats()
  for chunk in np.split(feats, [1, 40, 41, 90]):
    acc.update(chunk)
  mu, sigma = acc.mean_cov()
  assert acc.count == 103
  exact = feats.astype(np.float64)
  np.testing.assert_allclose(mu, exact.mean(0), rtol=1e-12)
  np.testing.assert_allclose(sigma, np.cov(exact, rowvar=False), rtol=1e-9, atol=1e-12)
  assert mu.dtype == sigma.dtype == np.float64


def test_feature_stats_need_two_samples():
  with pytest.raises(ValueError):
    FeatureStats().update(np.zeros((1, 4))).mean_cov()


# The reference's sqrtm of a 2048x2048 product takes minutes on a small CPU; 256 dims
# exercise the same code paths.
@pytest.mark.filterwarnings("ignore:The `disp` argument:DeprecationWarning")
@pytest.mark.parametrize("n, d", [(2000, 256), (40, 256)],
                         ids=["well-conditioned", "fewer-samples-than-dims"])
def test_matches_pytorch_fid(n, d):
  """Against pytorch_fid.fid_score.calculate_frechet_distance (scipy sqrtm of s1 s2).

  With fewer samples than dimensions both covariances are singular; pytorch-fid then
  falls back to adding eps=1e-6 to their diagonals if sqrtm returns non-finite values
  (recent scipy returns a finite root, so it may not need to).
  """
  fid_score = pytest.importorskip("pytorch_fid.fid_score")
  mu1, sigma1 = stats(gaussian_features(1, n, d))
  mu2, sigma2 = stats(gaussian_features(2, n, d, shift=0.3))
  with contextlib.redirect_stdout(io.StringIO()):  # its "adding eps" message
    want = fid_score.calculate_frechet_distance(mu1, sigma1, mu2, sigma2)
  got = frechet_distance(mu1, sigma1, mu2, sigma2)
  assert type(got) is float
  assert abs(got - want) <= 1e-6 * abs(want)


def test_singular_covariances_stay_real():
  """Rank-deficient and zero covariances: a real, finite, non-negative result."""
  mu1, sigma1 = stats(gaussian_features(3, 5, 64))
  mu2, sigma2 = stats(gaussian_features(4, 5, 64))
  for s1, s2 in [(sigma1, sigma2), (np.zeros_like(sigma1), sigma2), (sigma1, sigma1)]:
    value = frechet_distance(mu1, s1, mu2, s2)
    assert type(value) is float and np.isfinite(value) and value > -1e-9
  # Identical distributions are at distance 0, up to rounding: in the 59 null directions
  # the root of eigenvalue noise (~1e-16 |sigma|) leaves ~1e-8 |sigma| each.
  assert abs(frechet_distance(mu1, sigma1, mu1, sigma1)) < 1e-6 * np.trace(sigma1)


def test_known_value_for_diagonal_gaussians():
  # N(0, diag(a)) vs N(m, diag(b)): |m|^2 + sum (sqrt a - sqrt b)^2.
  a, b, m = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 0.0]), np.array([1.0, 2.0, 2.0])
  want = m @ m + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
  assert frechet_distance(np.zeros(3), np.diag(a), m, np.diag(b)) == pytest.approx(want)


def test_fid_from_features_is_symmetric_and_zero_on_itself():
  a, b = gaussian_features(5, 200, 8), gaussian_features(6, 150, 8, shift=0.5)
  assert fid_from_features(a, b) == pytest.approx(fid_from_features(b, a), rel=1e-9)
  assert abs(fid_from_features(a, a)) < 1e-8


def test_stats_file_round_trip_in_pytorch_fid_layout(tmp_path):
  mu, sigma = stats(gaussian_features(7, 50, 6))
  save_stats(tmp_path / "ref.npz", mu, sigma)
  with np.load(tmp_path / "ref.npz") as f:
    assert sorted(f.keys()) == ["mu", "sigma"]
  mu2, sigma2 = load_stats(tmp_path / "ref.npz")
  np.testing.assert_array_equal(mu, mu2)
  np.testing.assert_array_equal(sigma, sigma2)


def test_load_stats_errors_are_user_errors(tmp_path):
  with pytest.raises(UserError, match="not found"):
    load_stats(tmp_path / "missing.npz")
  np.savez(tmp_path / "other.npz", mean=np.zeros(3))
  with pytest.raises(UserError, match="'mu' and 'sigma'"):
    load_stats(tmp_path / "other.npz")


def test_feature_stats_combine_adds_shares_to_the_whole():
  """Two shares streamed apart, combined by a sum (what processes do), give the
  statistics of the whole set."""
  x = np.random.default_rng(3).normal(size=(11, 5))
  whole = FeatureStats(5).update(x)
  parts = [FeatureStats(5).update(x[:4]), FeatureStats(5).update(x[4:])]
  calls = iter(["count", "_sum", "_outer"])

  def total(array):
    name = next(calls)
    if name == "count":
      return np.asarray([parts[0].count + parts[1].count], np.float64)
    return getattr(parts[0], name) + getattr(parts[1], name)
  combined = FeatureStats(5).update(x[:4]).combine(total)
  assert combined.count == 11
  np.testing.assert_allclose(combined.mean_cov()[0], whole.mean_cov()[0], rtol=1e-12)
  np.testing.assert_allclose(combined.mean_cov()[1], whole.mean_cov()[1], rtol=1e-12)
