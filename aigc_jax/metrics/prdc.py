"""Precision, recall, density and coverage: k-nearest-neighbour metrics on features.

FID folds fidelity (do samples look real?) and diversity (do they cover the data?) into
one number. These four separate them, from the k-nearest-neighbour balls of feature
vectors (Inception pool3, or any other extractor's features):

  * precision (Kynkaanniemi et al., 2019): the fraction of fake samples inside at least
    one real sample's ball, the ball of real x_i having radius NND_k(x_i), the distance
    from x_i to its k-th nearest other real sample;
  * recall: the fraction of real samples inside at least one fake sample's ball (radii
    from the fake set); the paper uses k = 3;
  * density (Naeem et al., 2020): (1 / (k M)) sum_j sum_i 1[y_j in ball(x_i)] over the M
    fake y_j; it counts how many real balls hold each sample, so it is not capped at 1
    and is less fooled by a few real outliers with huge balls than precision;
  * coverage: the fraction of real samples whose ball holds at least one fake sample;
    Naeem et al. recommend k = 5 for both.

"Inside" is `distance <= radius`, the papers' definition; the `prdc` package tests
`<`, which differs only for exact ties (duplicate images).

Memory: all four need distances between every real and every fake sample, and the radii
need those within each set; for 50,000 x 50,000 that matrix is 10 GB in float32. It is
never formed: distances are computed in blocks of rows x columns (`block_bytes` of float64
each) and folded at once into per-sample counts, flags and running k-smallest lists,
so the working memory beyond the input features is a few blocks plus O(N k) numbers.
Distances are float64 (inputs are converted block by block), so a sample on the edge of
a ball is classified as it would be with exact arithmetic, up to ~1e-12 relative.
"""

from typing import NamedTuple

import numpy as np

from aigc_jax.errors import UserError

# Default size of one float64 distance block; a few of them are alive at once.
BLOCK_BYTES = 64 << 20


class KnnMetrics(NamedTuple):
  """The four metrics as Python floats (nan for one not computed)."""
  precision: float
  recall: float
  density: float
  coverage: float


def _check_features(real, fake):
  real, fake = np.asarray(real), np.asarray(fake)
  if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
    raise ValueError(f"features must be [N, D] and [M, D] with one D, got {real.shape} "
                     f"and {fake.shape}")
  return real, fake


def _check_k(k: int, n: int, which: str):
  if not 1 <= k < n:
    raise UserError(f"k-nearest-neighbour metrics need more {which} samples than k: "
                    f"k = {k}, {n} {which} samples")


def _sq_norms(x, rows: int) -> np.ndarray:
  """Squared row norms float64 [N], converting `rows` rows at a time."""
  out = np.empty(x.shape[0], np.float64)
  for i in range(0, x.shape[0], rows):
    block = np.asarray(x[i:i + rows], np.float64)
    out[i:i + rows] = np.einsum("ij,ij->i", block, block)
  return out


def iter_sq_distances(a, b, block_bytes: int = BLOCK_BYTES):
  """Yields (row slice, column slice, squared distances float64 [r, c]) covering a x b.

  Args:
    a: [N, D] features (any float dtype; a memory-mapped array works).
    b: [M, D] features.
    block_bytes: the size of one distance block; the a- and b-blocks are converted to
      float64 as needed, so peak extra memory is about 3 * block_bytes plus the blocks of
      features.

  Uses |x|^2 + |y|^2 - 2 x.y, clipped at 0 (rounding can make it slightly negative for
  (near-)identical vectors); blocks come row-block by row-block.
  """
  # Wide blocks (4x as many columns as rows for a square budget) keep the per-row
  # merges of knn radii few; at least one row and one column whatever the budget.
  cols = max(1, min(b.shape[0], int(np.sqrt(block_bytes / 8)) * 4))
  rows = max(1, block_bytes // (8 * cols))
  a_norms, b_norms = _sq_norms(a, rows), _sq_norms(b, rows)
  for j in range(0, b.shape[0], cols):
    b_block = np.asarray(b[j:j + cols], np.float64)
    bj = slice(j, j + b_block.shape[0])
    for i in range(0, a.shape[0], rows):
      a_block = np.asarray(a[i:i + rows], np.float64)
      ai = slice(i, i + a_block.shape[0])
      d2 = a_block @ b_block.T
      d2 *= -2
      d2 += a_norms[ai, None]
      d2 += b_norms[None, bj]
      np.maximum(d2, 0, out=d2)
      yield ai, bj, d2


def _k_smallest_sq(features, k: int, block_bytes: int) -> np.ndarray:
  """The k + 1 smallest squared distances from each sample to the set, sorted, [N, k + 1].

  Column 0 is the sample itself (0); column k is its k-th nearest other sample. Streams
  over column blocks, merging each into the running k + 1 smallest per row.
  """
  best = np.full((features.shape[0], k + 1), np.inf)
  for rows, _, d2 in iter_sq_distances(features, features, block_bytes):
    merged = np.concatenate([best[rows], d2], axis=1)
    best[rows] = np.partition(merged, k, axis=1)[:, :k + 1]
  best.sort(axis=1)
  return best


def knn_radii(features, k: int, block_bytes: int = BLOCK_BYTES) -> np.ndarray:
  """Distance from each sample to its k-th nearest other sample, float64 [N].

  The sample itself (distance 0) is not counted, so k = 1 is the nearest neighbour; a
  duplicate of a sample counts as a neighbour at distance 0, as in the papers' code.
  """
  features = np.asarray(features)
  _check_k(k, features.shape[0], "")
  return np.sqrt(_k_smallest_sq(features, k, block_bytes)[:, k])


def knn_metrics(real_features, fake_features, k_precision_recall: int = 3,
                k_density_coverage: int = 5, names=("precision", "recall", "density",
                                                    "coverage"),
                block_bytes: int = BLOCK_BYTES) -> KnnMetrics:
  """The requested k-NN metrics in one pass over the real x fake distances.

  Args:
    real_features: [N, D] features of real images (float; N > k).
    fake_features: [M, D] features of generated images, same D (M > k for recall).
    k_precision_recall: k of the precision/recall balls (Kynkaanniemi et al.: 3).
    k_density_coverage: k of the density/coverage balls (Naeem et al.: 5).
    names: which of "precision", "recall", "density", "coverage" to compute.
    block_bytes: the size of one float64 distance block (memory bound, see module doc).

  Returns:
    KnnMetrics of Python floats; names not asked for are nan.
  """
  real, fake = _check_features(real_features, fake_features)
  names = set(names)
  unknown = names - set(KnnMetrics._fields)
  if unknown:
    raise ValueError(f"unknown k-NN metrics {sorted(unknown)}")
  ks_real = set()
  if names & {"precision", "recall"}:
    ks_real.add(k_precision_recall)
  if names & {"density", "coverage"}:
    ks_real.add(k_density_coverage)
  for k in ks_real:
    _check_k(k, real.shape[0], "real")
  # One pass over the real set gives the (squared) radii for both k.
  nearest = _k_smallest_sq(real, max(ks_real), block_bytes)
  real_r2 = {k: nearest[:, k] for k in ks_real}
  fake_r2 = None
  if "recall" in names:
    _check_k(k_precision_recall, fake.shape[0], "fake")
    fake_r2 = _k_smallest_sq(fake, k_precision_recall, block_bytes)[:, k_precision_recall]

  fake_in_real_ball = np.zeros(fake.shape[0], bool)      # precision
  real_in_fake_ball = np.zeros(real.shape[0], bool)      # recall
  balls_holding_fake = np.zeros(fake.shape[0], np.int64)  # density
  real_ball_has_fake = np.zeros(real.shape[0], bool)     # coverage
  for rows, cols, d2 in iter_sq_distances(fake, real, block_bytes):
    if "precision" in names:
      fake_in_real_ball[rows] |= (d2 <= real_r2[k_precision_recall][None, cols]).any(1)
    if "recall" in names:
      real_in_fake_ball[cols] |= (d2 <= fake_r2[rows, None]).any(0)
    if names & {"density", "coverage"}:
      inside = d2 <= real_r2[k_density_coverage][None, cols]
      balls_holding_fake[rows] += inside.sum(1)
      real_ball_has_fake[cols] |= inside.any(0)
  nan = float("nan")
  return KnnMetrics(
      precision=float(fake_in_real_ball.mean()) if "precision" in names else nan,
      recall=float(real_in_fake_ball.mean()) if "recall" in names else nan,
      density=(float(balls_holding_fake.mean() / k_density_coverage)
               if "density" in names else nan),
      coverage=float(real_ball_has_fake.mean()) if "coverage" in names else nan)


def precision_recall(real_features, fake_features, k: int = 3) -> tuple[float, float]:
  """Improved precision and recall (Kynkaanniemi et al., 2019) of features.

  Args:
    real_features: [N, D] features of real images, N > k.
    fake_features: [M, D] features of generated images, M > k.
    k: the neighbour whose distance is each ball's radius (the paper's k = 3).

  Returns:
    (precision, recall), Python floats in [0, 1]: the fraction of fake samples inside
    the real manifold estimate, and of real samples inside the fake one.
  """
  m = knn_metrics(real_features, fake_features, k_precision_recall=k,
                  names=("precision", "recall"))
  return m.precision, m.recall


def density_coverage(real_features, fake_features, k: int = 5) -> tuple[float, float]:
  """Density and coverage (Naeem et al., 2020) of features.

  Args:
    real_features: [N, D] features of real images, N > k.
    fake_features: [M, D] features of generated images.
    k: the neighbour whose distance is each real ball's radius (the paper's k = 5).

  Returns:
    (density, coverage), Python floats: density >= 0 (1 on average for fakes distributed
    as the reals; can exceed 1), coverage in [0, 1].
  """
  m = knn_metrics(real_features, fake_features, k_density_coverage=k,
                  names=("density", "coverage"))
  return m.density, m.coverage
