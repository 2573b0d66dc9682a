"""From images to metric values: weights lookup, image folders, and `images_metrics`.

This is what `aigc eval` and `aigc stats` call. Nothing here downloads: the Inception
weights are a file the user converts once (see require_inception_weights).
"""

import os
import warnings
from collections.abc import Iterator

import numpy as np

from aigc_jax.errors import UserError
from aigc_jax.metrics.fid import FeatureStats, frechet_distance, load_stats
from aigc_jax.metrics.scores import inception_score, kernel_inception_distance

WEIGHTS_ENV = "AIGC_INCEPTION_WEIGHTS"
TORCH_WEIGHTS = "pt_inception-2015-12-05-6726825d.pth"
METRICS = ("fid", "is", "kid")

_HOW_TO_GET = (f"get pytorch-fid's {TORCH_WEIGHTS}, convert it with "
               f"`aigc convert-inception {TORCH_WEIGHTS} inception_fid.safetensors`, then pass "
               f"--inception-weights inception_fid.safetensors or set {WEIGHTS_ENV}")


def require_inception_weights(path_or_none=None) -> str:
  """The converted Inception weights file: the argument, else $AIGC_INCEPTION_WEIGHTS.

  Raises UserError, one line saying which file is needed and how to convert it, when
  neither is set, the file does not exist, or it is the unconverted PyTorch file.
  """
  path = path_or_none or os.environ.get(WEIGHTS_ENV)
  if not path:
    raise UserError(f"FID/IS/KID need the FID Inception weights: {_HOW_TO_GET}")
  path = os.fspath(path)
  if path.endswith((".pth", ".pt")):
    raise UserError(f"{path} is a PyTorch file; convert it first: "
                    f"`aigc convert-inception {path} inception_fid.safetensors`")
  if not os.path.isfile(path):
    raise UserError(f"Inception weights file not found: {path}; {_HOW_TO_GET}")
  return path


# ------------------------------------------------------------------------ folders


def iter_image_folder(folder, batch_size: int = 50) -> Iterator[np.ndarray]:
  """Yields uint8 [B, H, W, 3] batches of the images under `folder`, recursively.

  Files are read in sorted path order; a batch ends early where the image size changes
  (each size is one batch shape; resizing to 299 happens later, on the device).
  Unreadable files are skipped with a warning naming them.
  """
  from aigc_jax.data import image_folder
  batch = []
  for path in image_folder.image_files(folder):
    try:
      image = image_folder.read_image(path)
    except UserError as e:
      warnings.warn(f"skipping unreadable image {path}: {e}", stacklevel=2)
      continue
    if batch and (image.shape != batch[0].shape or len(batch) == batch_size):
      yield np.stack(batch)
      batch = []
    batch.append(image)
  if batch:
    yield np.stack(batch)


def load_image_folder(folder) -> np.ndarray:
  """All images under `folder` as one uint8 [N, H, W, 3] array (they must share a size)."""
  batches = list(iter_image_folder(folder, batch_size=1 << 30))
  if not batches:
    raise UserError(f"no readable images under {folder}")
  if len({b.shape[1:] for b in batches}) > 1:
    raise UserError(f"images under {folder} differ in size; stream them with "
                    "iter_image_folder instead")
  return np.concatenate(batches)


def _as_images(source, batch_size):
  """A folder path becomes its batches; arrays and iterables pass through."""
  if isinstance(source, (str, os.PathLike)):
    return iter_image_folder(source, batch_size)
  return source


# ------------------------------------------------------------------------ metrics


def _collect(variables, images, batch_size, resize, keep_pool3, keep_logits, progress):
  """Streams Inception features into FeatureStats; keeps only what KID/IS need."""
  from aigc_jax.metrics.inception import iter_inception_features
  stats, pool3s, logits = FeatureStats(), [], []
  total = images.shape[0] if getattr(images, "ndim", None) == 4 else None
  for pool3, batch_logits in iter_inception_features(
      variables, images, batch_size, resize, progress, total):
    stats.update(pool3)
    if keep_pool3:
      pool3s.append(pool3)
    if keep_logits:
      logits.append(batch_logits)
  if stats.count == 0:
    raise UserError("no images to evaluate")
  cat = lambda parts: np.concatenate(parts) if parts else None
  return stats, cat(pool3s), cat(logits)


def images_metrics(images_or_batches, metrics=METRICS, weights_path=None, ref_path=None,
                   ref_images=None, batch_size: int = 50, progress: bool = True,
                   resize: str = "pytorch") -> dict:
  """FID, Inception Score and/or KID of a set of uint8 images.

  Args:
    images_or_batches: uint8 [N, H, W, C] (C = 1 or 3), an iterable of such batches, or
      an image folder path.
    metrics: names from ("fid", "is", "kid"), or one comma-separated string.
    weights_path: converted Inception weights; None reads $AIGC_INCEPTION_WEIGHTS.
    ref_path: reference statistics .npz (mu, sigma) for FID, e.g. from `aigc stats`.
    ref_images: reference images (same forms as images_or_batches); used for FID when
      ref_path is None, and required for KID, which needs the features themselves.
    batch_size, progress, resize: as in inception_features.

  Returns:
    {"num_images": N, "fid": ..., "is_mean": ..., "is_std": ..., "kid_mean": ...,
    "kid_std": ...} with the keys of the requested metrics, Python floats. IS uses the
    bias-free logits over all 1008 classes, 10 splits (torch-fidelity's definition); KID
    uses 100 subsets of up to 1000 samples.
  """
  if isinstance(metrics, str):
    metrics = [m.strip() for m in metrics.split(",") if m.strip()]
  metrics = tuple(m.lower() for m in metrics)
  unknown = sorted(set(metrics) - set(METRICS))
  if unknown or not metrics:
    raise UserError(f"unknown metrics {unknown}; choose from {', '.join(METRICS)}")
  if "fid" in metrics and ref_path is None and ref_images is None:
    raise UserError("FID needs a reference: a statistics file (from `aigc stats`) or "
                    "reference images")
  if "kid" in metrics and ref_images is None:
    raise UserError("KID needs reference images (a statistics file holds only mu and "
                    "sigma); pass reference images or drop kid from the metrics")
  from aigc_jax.metrics.inception import load_params, unbiased_logits
  variables = load_params(require_inception_weights(weights_path))
  feature_args = dict(batch_size=batch_size, resize=resize, progress=progress)
  stats, pool3, logits = _collect(variables, _as_images(images_or_batches, batch_size),
                                  keep_pool3="kid" in metrics, keep_logits="is" in metrics,
                                  **feature_args)
  if stats.count < 2 and {"fid", "kid"} & set(metrics):
    raise UserError(f"FID and KID need at least 2 images, got {stats.count}")
  results = {"num_images": stats.count}
  ref_stats = ref_pool3 = None
  if ref_images is not None and (ref_path is None or "kid" in metrics):
    ref_stats, ref_pool3, _ = _collect(variables, _as_images(ref_images, batch_size),
                                       keep_pool3="kid" in metrics, keep_logits=False,
                                       **feature_args)
  if "fid" in metrics:
    ref_mu, ref_sigma = load_stats(ref_path) if ref_path is not None else ref_stats.mean_cov()
    if ref_mu.shape != (2048,):
      raise UserError(f"{ref_path} holds {ref_mu.shape[0]}-d statistics, not Inception pool3")
    results["fid"] = frechet_distance(*stats.mean_cov(), ref_mu, ref_sigma)
  if "is" in metrics:
    splits = min(10, stats.count)
    results["is_mean"], results["is_std"] = inception_score(
        unbiased_logits(variables, logits), splits=splits)
  if "kid" in metrics:
    results["kid_mean"], results["kid_std"] = kernel_inception_distance(pool3, ref_pool3)
  return results
