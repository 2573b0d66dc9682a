"""Precision/recall and density/coverage against the papers' definition and `prdc`."""

import tracemalloc

import numpy as np
import pytest

from aigc_jax.errors import UserError
from aigc_jax.metrics import density_coverage, knn_metrics, knn_radii, precision_recall


def features(seed, n, d=16, shift=0.0, scale=1.0):
  rng = np.random.default_rng(seed)
  return (shift + scale * rng.normal(size=(n, d))).astype(np.float32)


def reference(real, fake, k):
  """The papers' definitions, spelled out on full float64 distance matrices."""
  real, fake = real.astype(np.float64), fake.astype(np.float64)
  dist = lambda a, b: np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))
  d_rr, d_ff, d_rf = dist(real, real), dist(fake, fake), dist(real, fake)
  # Sorted row i starts with x_i itself (0), so column k is the k-th nearest other one.
  r_real, r_fake = np.sort(d_rr, 1)[:, k], np.sort(d_ff, 1)[:, k]
  inside_real = d_rf <= r_real[:, None]                      # [real i, fake j]
  precision = np.mean([inside_real[:, j].any() for j in range(fake.shape[0])])
  recall = np.mean([(d_rf[i] <= r_fake).any() for i in range(real.shape[0])])
  density = inside_real.sum() / (k * fake.shape[0])
  coverage = np.mean(d_rf.min(1) <= r_real)
  return precision, recall, density, coverage


@pytest.fixture(scope="module")
def sets():
  return features(0, 90), features(1, 70, shift=0.3, scale=1.3)


@pytest.mark.parametrize("k", [1, 3, 5])
@pytest.mark.parametrize("block_bytes", [8 * 7 * 29, 64 << 20])
def test_matches_the_papers_definition(sets, k, block_bytes):
  real, fake = sets
  got = knn_metrics(real, fake, k, k, block_bytes=block_bytes)
  # Counts of booleans: equal up to float rounding of the means.
  np.testing.assert_allclose(got, reference(real, fake, k), rtol=1e-12)
  assert 0 < got.precision < 1 and 0 < got.coverage < 1  # neither trivially 0 nor 1


def test_contract_functions(sets):
  real, fake = sets
  p, r, d, c = reference(real, fake, 3)
  assert precision_recall(real, fake) == pytest.approx((p, r), rel=1e-12)
  _, _, d5, c5 = reference(real, fake, 5)
  assert density_coverage(real, fake) == pytest.approx((d5, c5), rel=1e-12)
  assert all(isinstance(v, float) for v in precision_recall(real, fake, k=3))


@pytest.mark.parametrize("k", [3, 5])
def test_matches_the_prdc_package(sets, k):
  prdc = pytest.importorskip("prdc")
  real, fake = sets
  want = prdc.compute_prdc(real, fake, nearest_k=k)
  got = knn_metrics(real, fake, k, k)
  # prdc tests `<` where the papers write `<=`; with continuous features no distance ties
  # a radius, so all four agree exactly (recall and precision are prdc's too).
  for name in ("precision", "recall", "density", "coverage"):
    assert getattr(got, name) == pytest.approx(float(want[name]), rel=1e-12), name


def test_knn_radii_excludes_the_sample_itself():
  x = np.array([[0.0], [1.0], [3.0], [7.0]])
  np.testing.assert_allclose(knn_radii(x, 1), [1, 1, 2, 4])
  np.testing.assert_allclose(knn_radii(x, 2, block_bytes=8), [3, 2, 3, 6])


def test_better_samples_score_higher():
  real = features(2, 200)
  good, narrow = features(3, 200), features(4, 200, scale=0.3)
  p_good, r_good = precision_recall(real, good)
  p_narrow, r_narrow = precision_recall(real, narrow)
  assert r_narrow < 0.5 * r_good       # a collapsed generator loses recall,
  assert p_narrow >= p_good            # not precision
  _, c_good = density_coverage(real, good)
  _, c_narrow = density_coverage(real, narrow)
  assert c_narrow < c_good


def test_k_must_be_below_the_sample_count():
  with pytest.raises(UserError, match="more real samples than k"):
    precision_recall(features(0, 3), features(1, 10), k=3)
  with pytest.raises(UserError, match="more fake samples than k"):
    precision_recall(features(0, 10), features(1, 3), k=3)
  density_coverage(features(0, 10), features(1, 2), k=5)  # fakes need no radii


def test_memory_stays_at_the_block_size():
  # 3000 x 3000 float64 distances would be 72 MB; with 1 MiB blocks the peak stays near
  # a few blocks plus the O(N k) bookkeeping.
  real, fake = features(5, 3000, d=8), features(6, 3000, d=8)
  tracemalloc.start()
  try:
    knn_metrics(real, fake, block_bytes=1 << 20)
    _, peak = tracemalloc.get_traced_memory()
  finally:
    tracemalloc.stop()
  assert peak < 12 << 20, peak
