"""FID (and k-NN metrics) between two image sources: what `aigc fid A B` computes.

A source is an image folder (searched recursively, sorted path order), an .npz of
statistics (`mu`, `sigma`, e.g. from `aigc stats`), a training workdir (its latest
checkpoint generates the samples), or, from Python, a uint8 array [N, H, W, C].

  fid_between("samples/", "real/", num_samples=10_000, weights_path="inception.safetensors")
  # {"fid": 12.3, "a": {"kind": "folder", "num_samples": 10000, ...}, "b": {...}, ...}

Sample counts are exact: a source uses precisely `num_samples` images (all of them when
None), each once; no batch is dropped to fill a device batch and no image is repeated.
A folder with fewer readable images than asked for is an error, not a silent shortfall.

A is the set being judged and B the reference: precision is the fraction of A inside B's
manifold, recall that of B inside A's (FID itself is symmetric).
"""

import os

import numpy as np

from aigc_jax.errors import UserError
from aigc_jax.metrics import stats_cache
from aigc_jax.metrics.fid import FeatureStats, frechet_distance, load_stats
from aigc_jax.metrics.images import parse_metrics
from aigc_jax.metrics.prdc import KnnMetrics, knn_metrics

KNN_METRICS = KnnMetrics._fields
METRICS = ("fid", *KNN_METRICS)
# Samples generated from a workdir when num_samples is not given.
DEFAULT_GENERATED = 10_000
EXACT_NOTE = "exact: every image counted once, none dropped or repeated"


def _load_sampler(workdir):
  """sample(key, num) -> uint8 [num, H, W, C] from a workdir's latest checkpoint."""
  from aigc_jax import inference
  run = inference.load(workdir)
  return lambda key, num: inference.sample(run, key, num)


def generated_batches(workdir, num: int, seed: int = 0, chunk: int = 500):
  """Yields uint8 [<=chunk, H, W, C] batches, exactly `num` samples of a run in all.

  Chunk i uses key fold_in(key(seed), i), so the samples depend only on (seed, chunk),
  and memory stays at one chunk whatever `num`. Conditional runs sample every class in
  turn within each chunk (aigc_jax.inference.sample without labels).
  """
  import jax
  sample = _load_sampler(workdir)
  key = jax.random.key(seed)
  for i, start in enumerate(range(0, num, chunk)):
    yield np.asarray(sample(jax.random.fold_in(key, i), min(chunk, num - start)))


def folder_batches(files, num, batch_size: int):
  """Yields uint8 batches of the first `num` readable images of `files` (all if None).

  Unreadable files are skipped with a warning (as everywhere images are read); if fewer
  than `num` images could be read, a UserError says how many.
  """
  from aigc_jax.metrics.images import iter_image_files
  read = 0
  for batch in iter_image_files(files, batch_size, limit=num):
    read += batch.shape[0]
    yield batch
  if num is not None and read < num:
    raise UserError(f"asked for {num} images but only {read} of the {len(files)} files "
                    "could be read; lower --num-samples")


class _Source:
  """One side of a comparison: where its images (or statistics) come from."""

  def __init__(self, source, num_samples, batch_size, seed):
    self.stats = self.files = self.array = None
    self.workdir = None
    self.num = num_samples
    if isinstance(source, np.ndarray):
      if source.ndim != 4:
        raise UserError(f"images must be uint8 [N, H, W, C], got shape {source.shape}")
      if num_samples is not None and source.shape[0] < num_samples:
        raise UserError(f"asked for {num_samples} images but the array holds {source.shape[0]}")
      self.kind, self.name = "images", f"array{list(source.shape)}"
      self.array = source[:num_samples]
      self.num = self.array.shape[0]
      self.batches = lambda: (self.array[i:i + batch_size]
                              for i in range(0, self.num, batch_size))
      return
    path = os.fspath(source)
    self.name = path
    if os.path.isfile(path) and path.endswith(".npz"):
      self.kind = "stats"
      self.stats = load_stats(path)
      with np.load(path) as f:
        self.num = int(f["num_images"]) if "num_images" in f else None
    elif os.path.isfile(os.path.join(path, "config.json")):
      self.kind, self.workdir = "workdir", path
      self.num = num_samples or DEFAULT_GENERATED
      self.batches = lambda: generated_batches(path, self.num, seed)
    elif os.path.isdir(path):
      from aigc_jax.data import image_folder
      self.kind = "folder"
      self.files = image_folder.image_files(path)
      if num_samples is not None and len(self.files) < num_samples:
        raise UserError(f"{path} holds {len(self.files)} images, fewer than the "
                        f"{num_samples} asked for; lower --num-samples")
      self.batches = lambda: folder_batches(self.files, num_samples, batch_size)
    else:
      raise UserError(f"{path!r} is neither an image folder, a statistics .npz nor a "
                      "training workdir (a folder with config.json)")

  def cache_key(self, weights_path, resize):
    if self.kind == "folder":
      return stats_cache.content_key(files=self.files, root=self.name, num_images=self.num,
                                     weights_path=weights_path, resize=resize)
    if self.kind == "images":
      return stats_cache.content_key(array=self.array, weights_path=weights_path,
                                     resize=resize)
    return None  # generated samples change with every checkpoint: never cached


def _features(side, variables, batch_size, resize, keep, progress):
  """(FeatureStats, pool3 [N, 2048] or None) of a side's images, streamed."""
  from aigc_jax.metrics.inception import iter_inception_features
  stats, pool3 = FeatureStats(), []
  total = side.num if side.num is not None else len(side.files or ()) or None
  for feats, _ in iter_inception_features(variables, side.batches(), batch_size, resize,
                                          progress, total=total):
    stats.update(feats)
    if keep:
      pool3.append(feats)
  if side.num is not None and stats.count != side.num:
    raise UserError(f"{side.name}: read {stats.count} images, expected {side.num}")
  side.num = stats.count
  if stats.count < 2:
    raise UserError(f"{side.name}: FID needs at least 2 images, got {stats.count}")
  return stats, (np.concatenate(pool3) if keep else None)


def fid_between(a, b, *, num_samples: int | None = None, batch_size: int = 50,
                resize: str = "pytorch", weights_path=None, metrics=("fid",),
                save_stats_path=None, k_precision_recall: int = 3,
                k_density_coverage: int = 5, seed: int = 0, cache: bool = True,
                progress: bool = True) -> dict:
  """FID, and optionally precision/recall/density/coverage, between sources a and b.

  Args:
    a: the images judged: folder, statistics .npz, training workdir or uint8 array.
    b: the reference, same forms.
    num_samples: images used from each folder / array, and generated from a workdir
      (default all of a folder or array, DEFAULT_GENERATED for a workdir); ignored for
      a statistics file.
    batch_size, resize: as in inception_features ("pytorch" or "clean").
    weights_path: converted Inception weights; None reads $AIGC_INCEPTION_WEIGHTS.
    metrics: names from METRICS or one comma-separated string; the k-NN metrics need
      images on both sides (a statistics file holds only mu and sigma).
    save_stats_path: also write b's statistics (mu, sigma, num_images) to this .npz.
    k_precision_recall, k_density_coverage: the papers' 3 and 5.
    seed: sampling seed for a workdir.
    cache: look up and store folder / array statistics by content (stats_cache);
      used only when the features themselves are not needed.
    progress: tqdm bars.

  Returns:
    {"fid": float, "<knn metric>": float, ..., "a": {"source", "kind", "num_samples",
    "cached"}, "b": {...}, "resize": ..., "samples": EXACT_NOTE, "k": {...} when k-NN
    metrics were computed}.
  """
  from aigc_jax.metrics.images import require_inception_weights
  from aigc_jax.metrics.inception import RESIZE_MODES, load_params
  metrics = parse_metrics(metrics, METRICS)
  if resize not in RESIZE_MODES:
    raise UserError(f"resize must be one of {', '.join(RESIZE_MODES)}, got {resize!r}")
  if batch_size < 1 or (num_samples is not None and num_samples < 2):
    raise UserError(f"need batch size >= 1 and at least 2 samples, got {batch_size} and "
                    f"{num_samples}")
  sides = {"a": _Source(a, num_samples, batch_size, seed),
           "b": _Source(b, num_samples, batch_size, seed)}
  knn = [m for m in metrics if m in KNN_METRICS]
  for name, side in sides.items():
    if knn and side.kind == "stats":
      raise UserError(f"{', '.join(knn)} need images on both sides; {side.name} is a "
                      "statistics file (mu and sigma only)")
  weights = require_inception_weights(weights_path)
  variables = None
  stats, pool3, report = {}, {}, {}
  for name, side in sides.items():
    cached = False
    if side.kind == "stats":
      stats[name] = side.stats
    else:
      key = side.cache_key(weights, resize) if cache and not knn else None
      hit = stats_cache.load(key) if key else None
      if hit is not None:
        stats[name], side.num, cached = hit[:2], hit[2], True
      else:
        if variables is None:
          variables = load_params(weights)
        feature_stats, pool3[name] = _features(side, variables, batch_size, resize,
                                               keep=bool(knn), progress=progress)
        stats[name] = feature_stats.mean_cov()
        if key:
          stats_cache.store(key, *stats[name], side.num)
    if stats[name][0].shape != (2048,):
      raise UserError(f"{side.name} holds {stats[name][0].shape[0]}-d statistics, "
                      "not Inception pool3")
    report[name] = {"source": side.name, "kind": side.kind, "num_samples": side.num,
                    "cached": cached}
  result = {"fid": frechet_distance(*stats["a"], *stats["b"])}
  if knn:
    values = knn_metrics(pool3["b"], pool3["a"], k_precision_recall, k_density_coverage,
                         names=knn)
    result.update({m: getattr(values, m) for m in knn})
    result["k"] = {m: (k_precision_recall if m in ("precision", "recall")
                       else k_density_coverage) for m in knn}
  if save_stats_path is not None:
    count = {} if sides["b"].num is None else {"num_images": np.int64(sides["b"].num)}
    np.savez(save_stats_path, mu=stats["b"][0], sigma=stats["b"][1], **count)
  result.update(report, resize=resize, samples=EXACT_NOTE)
  return result
