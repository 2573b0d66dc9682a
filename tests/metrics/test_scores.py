"""Inception Score and KID against independent implementations.

IS: a direct numpy transcription of the definition (Salimans et al. 2016: per split,
exp(mean_x KL(p(y|x) || p(y)))), and torch-fidelity's own `isc_features_to_metric` when
torch-fidelity is installed. KID: a loop-by-loop numpy transcription of the unbiased
MMD^2 estimator with the (x.y/d + 1)^3 kernel, and torch-fidelity's when installed.
"""

import numpy as np
import pytest

from aigc_jax.metrics import inception_score, kernel_inception_distance


def peaked_logits(seed, n, classes=1008, used=1000):
  """Logits like a classifier's: confident on one of `used` classes, others far lower."""
  rng = np.random.default_rng(seed)
  logits = rng.normal(0, 2, (n, classes)).astype(np.float32)
  logits[np.arange(n), rng.integers(0, used, n)] += 12
  logits[:, used:] -= 20  # like the FID Inception's 8 unused classes
  return logits


def is_by_definition(logits, splits):
  scores, n = [], len(logits)
  for i in range(splits):
    chunk = np.asarray(logits[i * n // splits:(i + 1) * n // splits], np.float64)
    p = np.exp(chunk - chunk.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    p_y = p.mean(0)
    kl = [sum(pi * np.log(pi / qi) for pi, qi in zip(row, p_y) if pi > 0) for row in p]
    scores.append(np.exp(np.mean(kl)))
  return np.mean(scores), np.std(scores)


def test_inception_score_matches_definition():
  logits = peaked_logits(0, 203)
  mean, std = inception_score(logits, splits=10, shuffle_seed=None)
  want_mean, want_std = is_by_definition(logits, 10)
  assert mean == pytest.approx(want_mean, rel=1e-9)
  assert std == pytest.approx(want_std, rel=1e-6)
  assert 1 <= mean <= 1008


def test_inception_score_matches_torch_fidelity():
  torch = pytest.importorskip("torch")
  metric_isc = pytest.importorskip("torch_fidelity.metric_isc")
  logits = peaked_logits(1, 500)
  want = metric_isc.isc_features_to_metric(torch.from_numpy(logits), splits=10)
  mean, std = inception_score(logits, splits=10)  # default: torch-fidelity's shuffle
  assert mean == pytest.approx(want[metric_isc.KEY_METRIC_ISC_MEAN], rel=1e-3)
  assert std == pytest.approx(want[metric_isc.KEY_METRIC_ISC_STD], rel=1e-3)


def test_inception_score_is_stable_for_huge_logits():
  logits = peaked_logits(2, 50) * 1e3  # softmax of these overflows without the max shift
  mean, std = inception_score(logits, splits=5)
  assert np.isfinite(mean) and np.isfinite(std)


def kid_by_definition(a, b, num_subsets, subset_size, seed):
  rng = np.random.RandomState(seed)
  d = a.shape[1]
  k = lambda x, y: (x @ y / d + 1) ** 3
  values = []
  for _ in range(num_subsets):
    x = a[rng.choice(len(a), subset_size, replace=False)]
    y = b[rng.choice(len(b), subset_size, replace=False)]
    m = subset_size
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    values.append(xx + yy - 2 * xy)
  return np.mean(values), np.std(values)


def test_kid_matches_definition_with_capped_subsets():
  rng = np.random.default_rng(3)
  a = np.abs(rng.normal(size=(30, 16)))
  b = np.abs(rng.normal(1.0, 1, size=(25, 16)))
  # subset_size 1000 is capped at the smaller set, 25.
  mean, std = kernel_inception_distance(a, b, num_subsets=4, seed=7)
  want_mean, want_std = kid_by_definition(a, b, 4, 25, seed=7)
  assert mean == pytest.approx(want_mean, rel=1e-9)
  assert std == pytest.approx(want_std, rel=1e-7)
  assert mean > 0


def test_kid_matches_torch_fidelity():
  torch = pytest.importorskip("torch")
  metric_kid = pytest.importorskip("torch_fidelity.metric_kid")
  rng = np.random.default_rng(4)
  a = np.abs(rng.normal(size=(120, 64))).astype(np.float32)
  b = np.abs(rng.normal(0.1, 1, size=(100, 64))).astype(np.float32)
  want = metric_kid.kid_features_to_metric(
      torch.from_numpy(a), torch.from_numpy(b), kid_subsets=10, kid_subset_size=50,
      rng_seed=2020, verbose=False)
  mean, std = kernel_inception_distance(a, b, num_subsets=10, subset_size=50, seed=2020)
  # torch-fidelity evaluates the kernels in float32, this library in float64.
  assert mean == pytest.approx(want[metric_kid.KEY_METRIC_KID_MEAN], rel=1e-4)
  assert std == pytest.approx(want[metric_kid.KEY_METRIC_KID_STD], rel=1e-4)


def test_kid_of_a_set_with_itself_is_near_zero():
  a = np.abs(np.random.default_rng(5).normal(size=(200, 8)))
  mean, _ = kernel_inception_distance(a, a, num_subsets=5, subset_size=100)
  assert abs(mean) < 0.05
