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
from aigc_jax.metrics.intra_fid import features_by_class, intra_class_fid
from aigc_jax.metrics.prdc import KnnMetrics, knn_metrics
from aigc_jax.metrics.scores import inception_score, kernel_inception_distance

WEIGHTS_ENV = "AIGC_INCEPTION_WEIGHTS"
TORCH_WEIGHTS = "pt_inception-2015-12-05-6726825d.pth"
# What images_metrics can compute; DEFAULT_METRICS when none are named.
METRICS = ("fid", "is", "kid", "precision", "recall", "density", "coverage", "intra_fid")
DEFAULT_METRICS = ("fid", "is", "kid")
# The metrics that need the reference images' features themselves, not just mu, sigma.
_NEED_REF_FEATURES = ("kid", "precision", "recall", "density", "coverage", "intra_fid")

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
# Finding and decoding files is the data layer's (aigc_jax.data.image_folder); here they
# are only grouped into batches for the network.


def iter_image_files(paths, batch_size: int = 50, limit: int | None = None
                     ) -> Iterator[np.ndarray]:
  """Yields uint8 [B, H, W, 3] batches of the image files `paths`, in that order.

  A batch ends early where the image size changes (each size is one batch shape;
  resizing to 299 happens later, on the device). Unreadable files are skipped with a
  warning naming them. With `limit`, stops after that many images have been read.
  """
  from aigc_jax.data import image_folder
  batch, read = [], 0
  for path in paths:
    if limit is not None and read == limit:
      break
    try:
      image = image_folder.read_image(path)
    except UserError as e:
      warnings.warn(f"skipping unreadable image {path}: {e}", stacklevel=2)
      continue
    if batch and (image.shape != batch[0].shape or len(batch) == batch_size):
      yield np.stack(batch)
      batch = []
    batch.append(image)
    read += 1
  if batch:
    yield np.stack(batch)


def iter_image_folder(folder, batch_size: int = 50, limit: int | None = None
                      ) -> Iterator[np.ndarray]:
  """iter_image_files over the image files under `folder`, recursively, sorted by path."""
  from aigc_jax.data import image_folder
  return iter_image_files(image_folder.image_files(folder), batch_size, limit)


def _as_images(source, batch_size):
  """A folder path becomes its batches; arrays and iterables pass through."""
  if isinstance(source, (str, os.PathLike)):
    return iter_image_folder(source, batch_size)
  return source


# ------------------------------------------------------------------------ metrics


def _collect(variables, images, batch_size, resize, keep_pool3, keep_logits, progress, keep_stats=True):
  """Streams Inception features into FeatureStats; keeps only what KID/IS need (and
  with `keep_stats=False`, only those: the FeatureStats is then None).

  Across processes (`aigc eval` joined to a multi-process run), an image array is split:
  each process featurises its contiguous share (`distributed.process_range`), the
  float64 sums of the statistics are added over processes (`FeatureStats.combine`, as
  `aigc stats` does) and the kept features gathered in image order, so every process
  gets what one process computes, to float rounding. An iterable of batches or a folder
  is featurised whole by every process (it cannot be split without reading it).
  """
  from aigc_jax import distributed
  from aigc_jax.metrics.inception import NUM_CLASSES, iter_inception_features
  split = distributed.is_multiprocess() and getattr(images, "ndim", None) == 4
  if split:
    start, stop = distributed.process_range(images.shape[0])
    images, progress = images[start:stop], progress and distributed.is_main()
  stats = (FeatureStats(2048) if split else FeatureStats()) if keep_stats else None
  pool3s, logits, count = [], [], 0
  total = images.shape[0] if getattr(images, "ndim", None) == 4 else None
  for pool3, batch_logits in iter_inception_features(
      variables, images, batch_size, resize, progress, total):
    count += pool3.shape[0]
    if keep_stats:
      stats.update(pool3)
    if keep_pool3:
      pool3s.append(pool3)
    if keep_logits:
      logits.append(batch_logits)
  if split:  # Every process takes part, with an empty share too.
    count = int(distributed.sum_over_processes(np.asarray([count]))[0])
    if keep_stats:
      stats.combine(distributed.sum_over_processes)
    gather = lambda parts, dim: [distributed.concat_over_processes(
        np.concatenate(parts) if parts else np.zeros((0, dim), np.float32))]
    pool3s = gather(pool3s, 2048) if keep_pool3 else []
    logits = gather(logits, NUM_CLASSES) if keep_logits else []
  if count == 0:
    raise UserError("no images to evaluate")
  cat = lambda parts: np.concatenate(parts) if parts else None
  return stats, cat(pool3s), cat(logits)


def inception_pool3(variables, images, batch_size: int = 50) -> np.ndarray:
  """The pool3 features [N, 2048] of uint8 images [N, H, W, C] ("pytorch" resizing),
  split over the processes of a multi-process run as `images_metrics` splits them;
  alone, exactly `inception.inception_features(variables, images, batch_size)[0]`."""
  return _collect(variables, images, batch_size, "pytorch", keep_pool3=True, keep_logits=False,
                  progress=False, keep_stats=False)[1]


def parse_metrics(metrics, allowed=METRICS) -> tuple[str, ...]:
  """Metric names (a sequence or one comma-separated string) checked against `allowed`."""
  if isinstance(metrics, str):
    metrics = [m.strip() for m in metrics.split(",") if m.strip()]
  metrics = tuple(m.lower() for m in metrics)
  unknown = sorted(set(metrics) - set(allowed))
  if unknown or not metrics:
    raise UserError(f"unknown metrics {unknown}; choose from {', '.join(allowed)}")
  return metrics


def images_metrics(images_or_batches, metrics=DEFAULT_METRICS, weights_path=None,
                   ref_path=None, ref_images=None, batch_size: int = 50,
                   progress: bool = True, resize: str = "pytorch", labels=None,
                   ref_labels=None, k_precision_recall: int = 3,
                   k_density_coverage: int = 5) -> dict:
  """Inception-feature metrics of a set of uint8 images against a reference.

  Args:
    images_or_batches: uint8 [N, H, W, C] (C = 1 or 3), an iterable of such batches, or
      an image folder path.
    metrics: names from METRICS ("fid", "is", "kid", "precision", "recall", "density",
      "coverage", "intra_fid"), or one comma-separated string.
    weights_path: converted Inception weights; None reads $AIGC_INCEPTION_WEIGHTS.
    ref_path: reference statistics .npz (mu, sigma) for FID, e.g. from `aigc stats`.
    ref_images: reference images (same forms as images_or_batches); used for FID when
      ref_path is None, and required by every metric but fid and is, which need the
      reference features themselves.
    batch_size, progress, resize: as in inception_features.
    labels, ref_labels: int class labels [N] of the images and of the reference images,
      in their order; intra_fid needs both.
    k_precision_recall, k_density_coverage: the k of the k-NN metrics (papers: 3, 5).

  Returns:
    {"num_images": N, "fid", "is_mean", "is_std", "kid_mean", "kid_std", "precision",
    "recall", "density", "coverage", "intra_fid", "intra_fid_per_class": {"<class>": ...}}
    with the keys of the requested metrics, Python floats. IS uses the bias-free logits
    over all 1008 classes, 10 splits (torch-fidelity's definition); KID uses 100 subsets
    of up to 1000 samples; precision/recall/density/coverage are those of
    aigc_jax.metrics.prdc on pool3 features (images judged against the reference);
    intra_fid is the mean over classes of each class's FID (aigc_jax.metrics.intra_fid).
  """
  metrics = parse_metrics(metrics)
  if "fid" in metrics and ref_path is None and ref_images is None:
    raise UserError("FID needs a reference: a statistics file (from `aigc stats`) or "
                    "reference images")
  need_ref_features = [m for m in metrics if m in _NEED_REF_FEATURES]
  if need_ref_features and ref_images is None:
    names = [m.upper() if m == "kid" else m for m in need_ref_features]
    verb = "needs" if len(names) == 1 else "need"
    raise UserError(f"{', '.join(names)} {verb} reference images (a statistics file holds "
                    "only mu and sigma); pass reference images or drop them")
  if "intra_fid" in metrics and (labels is None or ref_labels is None):
    raise UserError("intra_fid needs the class labels of the images and of the reference "
                    "images (a class-conditional run)")
  from aigc_jax.metrics.inception import load_params, unbiased_logits
  variables = load_params(require_inception_weights(weights_path))
  feature_args = dict(batch_size=batch_size, resize=resize, progress=progress)
  stats, pool3, logits = _collect(variables, _as_images(images_or_batches, batch_size),
                                  keep_pool3=bool(need_ref_features),
                                  keep_logits="is" in metrics, **feature_args)
  if stats.count < 2 and {"fid", "kid"} & set(metrics):
    raise UserError(f"FID and KID need at least 2 images, got {stats.count}")
  results = {"num_images": stats.count}
  ref_stats = ref_pool3 = None
  if ref_images is not None and (ref_path is None or need_ref_features):
    ref_stats, ref_pool3, _ = _collect(variables, _as_images(ref_images, batch_size),
                                       keep_pool3=bool(need_ref_features),
                                       keep_logits=False, **feature_args)
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
  knn = [m for m in metrics if m in KnnMetrics._fields]
  if knn:
    values = knn_metrics(ref_pool3, pool3, k_precision_recall, k_density_coverage, knn)
    results.update({m: getattr(values, m) for m in knn})
  if "intra_fid" in metrics:
    mean, per_class = intra_class_fid(features_by_class(ref_pool3, ref_labels),
                                      features_by_class(pool3, labels))
    results["intra_fid"] = mean
    results["intra_fid_per_class"] = {str(c): v for c, v in per_class.items()}
  return results
