"""Evaluation metrics for image generators: FID, IS, KID, precision/recall,
density/coverage, intra-class FID, the memorised share.

  feats = inception_features(variables, images)        # (pool3 [N, 2048], logits [N, 1008])
  fid = fid_from_features(pool3_a, pool3_b)
  is_mean, is_std = inception_score(unbiased_logits)
  precision, recall = precision_recall(real_pool3, fake_pool3, k=3)
  density, coverage = density_coverage(real_pool3, fake_pool3, k=5)
  mean_fid, per_class = intra_class_fid(real_pool3_by_class, fake_pool3_by_class)
  share = memorised_share(train_pool3, fake_pool3)     # samples closer to a training image than its neighbours
  images_metrics(images, metrics=("fid", "is", "kid"), ref_path="ref.npz")
  fid_between("samples/", "real/")                     # what `aigc fid A B` prints

The statistics (fid, scores, prdc, memorisation) are numpy only and imported eagerly; everything that needs
JAX/Flax (the Inception network, feature extraction, image folders) is imported on first
use, so `import aigc_jax.metrics` stays cheap and never imports torch. See docs/metrics.md.
"""

import importlib

from aigc_jax.metrics.fid import (FeatureStats, fid_from_features, frechet_distance,
                                  load_stats, save_stats)
from aigc_jax.metrics.intra_fid import features_by_class, intra_class_fid
from aigc_jax.metrics.memorisation import (Memorisation, memorised_share, memorised_shares,
                                           nearest_neighbours)
from aigc_jax.metrics.prdc import (KnnMetrics, density_coverage, knn_metrics, knn_radii,
                                   precision_recall)
from aigc_jax.metrics.scores import inception_score, kernel_inception_distance

# Names resolved lazily (PEP 562): attribute -> submodule that defines it.
_LAZY = {
    "inception_features": "aigc_jax.metrics.inception",
    "iter_inception_features": "aigc_jax.metrics.inception",
    "unbiased_logits": "aigc_jax.metrics.inception",
    "load_params": "aigc_jax.metrics.inception",
    "save_params": "aigc_jax.metrics.inception",
    "params_from_torch_state_dict": "aigc_jax.metrics.inception",
    "require_inception_weights": "aigc_jax.metrics.images",
    "images_metrics": "aigc_jax.metrics.images",
    "iter_image_folder": "aigc_jax.metrics.images",
    "iter_image_files": "aigc_jax.metrics.images",
    "fid_between": "aigc_jax.metrics.compare",
    "inception_images_per_second": "aigc_jax.bench.inception",
}

__all__ = [
    "FeatureStats", "fid_from_features", "frechet_distance", "load_stats", "save_stats",
    "inception_score", "kernel_inception_distance", "features_by_class", "intra_class_fid",
    "KnnMetrics", "density_coverage", "knn_metrics", "knn_radii", "precision_recall",
    "Memorisation", "memorised_share", "memorised_shares", "nearest_neighbours",
    *_LAZY,
]


def __getattr__(name):
  if name in _LAZY:
    return getattr(importlib.import_module(_LAZY[name]), name)
  raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
  return sorted(set(globals()) | set(_LAZY))
