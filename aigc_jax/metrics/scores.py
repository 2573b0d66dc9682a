"""Inception Score and Kernel Inception Distance, from features computed elsewhere.

Both follow torch-fidelity's definitions (which follow the papers and their reference
code), on the host in float64.
"""

import numpy as np
import scipy.special


def _log_softmax(logits: np.ndarray) -> np.ndarray:
  """Row-wise log-softmax, shifted by the row max so exp never overflows."""
  return logits - scipy.special.logsumexp(logits, axis=1, keepdims=True)


def inception_score(logits, splits: int = 10, shuffle_seed: int | None = 2020):
  """Inception Score (Salimans et al., 2016): exp(E_x KL(p(y|x) || p(y))), per split.

  Args:
    logits: [N, C] class logits, any float dtype. For the standard IS these are the 1008
      logits of the FID Inception *without* the fc bias (torch-fidelity's
      `logits_unbiased`, like the original TF code, which multiplied pool3 by the softmax
      weights only); all C classes take part, including the 8 unused ones.
    splits: the samples are cut into this many consecutive chunks (sizes differ by at most
      one); p(y) is the mean prediction within a chunk.
    shuffle_seed: the samples are first permuted with numpy.random.RandomState(seed), as
      torch-fidelity does (its default seed 2020, so results match it exactly); None keeps
      the given order, as the original TF code does.

  Returns:
    (mean, std) over the splits, Python floats; std is the population std (numpy.std),
    as torch-fidelity reports it.
  """
  logits = np.asarray(logits, np.float64)
  n = logits.shape[0]
  if logits.ndim != 2 or n < splits:
    raise ValueError(f"need [N, C] logits with N >= splits={splits}, got {logits.shape}")
  if shuffle_seed is not None:
    logits = logits[np.random.RandomState(shuffle_seed).permutation(n)]
  log_p = _log_softmax(logits)
  p = np.exp(log_p)
  scores = []
  for i in range(splits):
    lo, hi = i * n // splits, (i + 1) * n // splits
    # log p(y) = log mean_x p(y|x), taken in log space: it stays finite where every p(y|x)
    # underflows to 0, so those terms are 0 * finite rather than 0 * inf = nan.
    log_q = scipy.special.logsumexp(log_p[lo:hi], axis=0, keepdims=True) - np.log(hi - lo)
    kl = (p[lo:hi] * (log_p[lo:hi] - log_q)).sum(axis=1).mean()
    scores.append(np.exp(kl))
  return float(np.mean(scores)), float(np.std(scores))


def polynomial_kernel(x, y, degree: int = 3, gamma: float | None = None, coef0: float = 1):
  """k(x, y) = (gamma x.y + coef0)^degree for rows of x [M, D] and y [K, D] -> [M, K].

  gamma defaults to 1/D, giving KID's (x.y/D + 1)^3.
  """
  if gamma is None:
    gamma = 1.0 / x.shape[1]
  return (x @ y.T * gamma + coef0) ** degree


def mmd2_unbiased(k_xx, k_xy, k_yy) -> float:
  """Unbiased MMD^2 from kernel matrices of two equal-size samples (m each).

  Drops the diagonals of k_xx and k_yy (a point's kernel with itself), keeps all of k_xy:
  sum'(k_xx)/(m(m-1)) + sum'(k_yy)/(m(m-1)) - 2 sum(k_xy)/m^2.
  """
  m = k_xx.shape[0]
  within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
  return float(within - 2 * k_xy.sum() / (m * m))


def kernel_inception_distance(feats_a, feats_b, num_subsets: int = 100,
                              subset_size: int = 1000, degree: int = 3,
                              gamma: float | None = None, coef0: float = 1, seed: int = 0):
  """KID (Bińkowski et al., 2018): unbiased MMD^2 with a polynomial kernel, over subsets.

  Args:
    feats_a, feats_b: [Na, D], [Nb, D] features (pool3 for the standard KID).
    num_subsets: how many pairs of subsets to average over.
    subset_size: samples per subset, capped at min(Na, Nb).
    degree, gamma, coef0: the kernel (gamma x.y + coef0)^degree; gamma None means 1/D.
    seed: seeds numpy.random.RandomState; each subset pair draws an a-subset then a
      b-subset without replacement with `choice`, as torch-fidelity does (its default
      seed is 2020).

  Returns:
    (mean, std) of the per-subset MMD^2 as Python floats (std: numpy.std). Unbiased, so
    the mean can come out slightly negative for matching distributions.
  """
  a = np.asarray(feats_a, np.float64)
  b = np.asarray(feats_b, np.float64)
  m = min(a.shape[0], b.shape[0], subset_size)
  if m < 2:
    raise ValueError(f"KID needs at least 2 samples per set, got {a.shape[0]} and {b.shape[0]}")
  rng = np.random.RandomState(seed)
  mmds = np.zeros(num_subsets)
  for i in range(num_subsets):
    x = a[rng.choice(a.shape[0], m, replace=False)]
    y = b[rng.choice(b.shape[0], m, replace=False)]
    kernel = lambda u, v: polynomial_kernel(u, v, degree, gamma, coef0)
    mmds[i] = mmd2_unbiased(kernel(x, x), kernel(x, y), kernel(y, y))
  return float(mmds.mean()), float(mmds.std())
