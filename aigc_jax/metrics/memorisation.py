"""Memorisation: how often a generated sample sits closer to a training image than any
other training image does.

A generator that copies its training set (a diffusion model on a small dataset can, as
its loss keeps falling) may still score a good FID: the copies look real. This metric
asks, in some feature space (the digits classifier's, Inception pool3), for each sample
s with nearest training image t:

    memorised(s)  <=>  d(s, t) < d(t, t')      t' = t's nearest *other* training image

i.e. s lies inside the gap around t that no other training image reaches. The share of
memorised samples is the figure; the same share for the real test split (images the
model never saw, drawn from the same distribution) is the reference a non-copying
generator should stay near. An exact copy of a training image is memorised (0 < d(t, t'))
unless that training image has an exact duplicate in the training set (then 0 < 0 fails:
a copy of a duplicated image is indistinguishable from a sample of the data).

Exactness: nearest neighbours are found over float64 squared distances computed in
blocks (`prdc.iter_sq_distances`, `|x|^2 + |y|^2 - 2 x.y`, never the full matrix), then
the two distances compared for each sample (to its nearest training image, and that
image's to its own nearest neighbour) are recomputed directly as `sum((x - y)^2)` in
float64, so the comparison itself has no cancellation error. A training image's own
nearest neighbour excludes the image itself (by index, so an exact duplicate still counts
as a neighbour at distance 0).

Ties: among training images at exactly the same (block-computed) distance the one with
the lowest index is the nearest, as `numpy.argmin` picks. With real-valued features exact
ties happen only for duplicated images, and duplicates have equal nearest-neighbour
distances as well, so which of them is picked does not change the result.
"""

from typing import NamedTuple

import numpy as np

from aigc_jax.metrics.prdc import BLOCK_BYTES, iter_sq_distances


class Memorisation(NamedTuple):
  """Per-sample detail of `memorisation` (M samples).

  share: the fraction of memorised samples, a Python float in [0, 1].
  memorised: bool [M], d(s, t) < d(t, t').
  nearest: int64 [M], the index of each sample's nearest training image t.
  distance: float64 [M], d(s, t).
  train_distance: float64 [M], d(t, t'), the nearest-neighbour distance of t.
  """
  share: float
  memorised: np.ndarray
  nearest: np.ndarray
  distance: np.ndarray
  train_distance: np.ndarray


def _check(features, name):
  features = np.asarray(features)
  if features.ndim != 2:
    raise ValueError(f"{name} features must be [N, D], got shape {features.shape}")
  return features


def _direct_sq(a, b) -> np.ndarray:
  """sum((a - b)^2) per row in float64, [N] for a, b [N, D]."""
  diff = np.asarray(a, np.float64) - np.asarray(b, np.float64)
  return np.einsum("ij,ij->i", diff, diff)


def nearest_neighbours(queries, keys, *, exclude_self: bool = False,
                       block_bytes: int = BLOCK_BYTES) -> tuple[np.ndarray, np.ndarray]:
  """The nearest key of each query: (index int64 [M], distance float64 [M]).

  Args:
    queries: [M, D] features (any float dtype).
    keys: [N, D] features, same D.
    exclude_self: the queries are the keys themselves (same array, same order); query i
      skips key i, so the result is each key's nearest *other* key (a duplicate of it is
      still found, at distance 0). Needs N >= 2.
    block_bytes: the size of one float64 distance block (see `prdc.iter_sq_distances`).

  Returns:
    The index of the nearest key (the lowest index among exact ties) and the Euclidean
    distance to it, recomputed directly from the two feature vectors in float64.
  """
  queries, keys = _check(queries, "query"), _check(keys, "key")
  if queries.shape[1] != keys.shape[1]:
    raise ValueError(f"queries have {queries.shape[1]} dimensions, keys {keys.shape[1]}")
  if keys.shape[0] < 1 + exclude_self:
    raise ValueError(f"need at least {1 + exclude_self} keys, got {keys.shape[0]}")
  if exclude_self and queries.shape[0] != keys.shape[0]:
    raise ValueError("exclude_self needs the queries to be the keys")
  best = np.full(queries.shape[0], np.inf)
  index = np.zeros(queries.shape[0], np.int64)
  for rows, cols, d2 in iter_sq_distances(queries, keys, block_bytes):
    if exclude_self:
      # The diagonal entries of this block: query r against key r.
      lo, hi = max(rows.start, cols.start), min(rows.stop, cols.stop)
      if lo < hi:
        own = np.arange(lo, hi)
        d2[own - rows.start, own - cols.start] = np.inf
    j = np.argmin(d2, axis=1)
    block_best = d2[np.arange(d2.shape[0]), j]
    # Column blocks come in increasing order, so a strict < keeps the lowest index.
    better = block_best < best[rows]
    best[rows] = np.where(better, block_best, best[rows])
    index[rows] = np.where(better, j + cols.start, index[rows])
  return index, np.sqrt(_direct_sq(queries, keys[index]))


def memorisation(train_features, sample_features, *, train_nearest=None,
                 block_bytes: int = BLOCK_BYTES) -> Memorisation:
  """Which samples are closer to their nearest training image than its own neighbour.

  Args:
    train_features: [N, D] features of the training images (N >= 2).
    sample_features: [M, D] features of the samples judged (generated images, or the
      real test split for the reference), same D.
    train_nearest: optional `nearest_neighbours(train, train, exclude_self=True)`, to
      share it between several sample sets of one training set.
    block_bytes: the size of one float64 distance block.

  Returns:
    A `Memorisation` (the share and the per-sample detail); see the module docstring
    for the definition, the exactness and the tie rule.
  """
  train = _check(train_features, "training")
  if train_nearest is None:
    train_nearest = nearest_neighbours(train, train, exclude_self=True, block_bytes=block_bytes)
  nearest, distance = nearest_neighbours(sample_features, train, block_bytes=block_bytes)
  train_distance = np.asarray(train_nearest[1])[nearest]
  memorised = distance < train_distance
  share = float(memorised.mean()) if memorised.size else float("nan")
  return Memorisation(share, memorised, nearest, distance, train_distance)


def memorised_share(train_features, sample_features, block_bytes: int = BLOCK_BYTES) -> float:
  """The share of samples [M, D] memorised from the training features [N, D], in [0, 1]."""
  return memorisation(train_features, sample_features, block_bytes=block_bytes).share


def memorised_shares(train_features, sample_features, test_features,
                     block_bytes: int = BLOCK_BYTES) -> tuple[float, float]:
  """(share of the samples, share of the real test split): the figure and its reference,
  computing the training set's own nearest neighbours once."""
  train = _check(train_features, "training")
  train_nearest = nearest_neighbours(train, train, exclude_self=True, block_bytes=block_bytes)
  return tuple(memorisation(train, features, train_nearest=train_nearest, block_bytes=block_bytes).share
               for features in (sample_features, test_features))
