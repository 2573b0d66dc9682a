"""Evaluation metrics for image generators: FID, Inception Score, KID.

  feats = inception_features(variables, images)        # (pool3 [N, 2048], logits [N, 1008])
  fid = fid_from_features(pool3_a, pool3_b)
  is_mean, is_std = inception_score(unbiased_logits)
  images_metrics(images, metrics=("fid", "is", "kid"), ref_path="ref.npz")

The statistics (fid, scores) are numpy only and imported eagerly; everything that needs
JAX/Flax (the Inception network, feature extraction, image folders) is imported on first
use, so `import aigc_jax.metrics` stays cheap and never imports torch. See docs/metrics.md.
"""

import importlib

from aigc_jax.metrics.fid import (FeatureStats, fid_from_features, frechet_distance,
                                  load_stats, save_stats)
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
    "load_image_folder": "aigc_jax.metrics.images",
    "iter_image_folder": "aigc_jax.metrics.images",
    "inception_images_per_second": "aigc_jax.metrics.bench",
}

__all__ = [
    "FeatureStats", "fid_from_features", "frechet_distance", "load_stats", "save_stats",
    "inception_score", "kernel_inception_distance", *_LAZY,
]


def __getattr__(name):
  if name in _LAZY:
    return getattr(importlib.import_module(_LAZY[name]), name)
  raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
  return sorted(set(globals()) | set(_LAZY))
