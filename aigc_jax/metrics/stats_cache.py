"""Reference statistics computed once and found again by content.

Inception statistics of a reference set (50,000 images: minutes on a GPU, an hour or
more on a CPU) are the same every time the same images meet the same network and resize
mode, so they are stored under a key made of exactly those contents:

  sha256(every image file's relative path and bytes, or the array's shape, dtype and
         bytes; the number of images used; the weights file's bytes; the resize mode)

Renaming or moving the folder keeps the key; changing one pixel, the weights, the mode
or the count gives a new one. Hashing reads each file once (far cheaper than decoding it
and running the network). Entries are .npz files with `mu`, `sigma` (pytorch-fid's
layout) and `num_images`, in `$AIGC_STATS_CACHE_DIR` (empty to disable), else
~/.cache/aigc_jax/stats.
"""

import functools
import hashlib
import os

import numpy as np

CACHE_ENV = "AIGC_STATS_CACHE_DIR"
_CHUNK = 1 << 20


def cache_dir() -> str | None:
  """The cache folder, or None when caching is disabled ($AIGC_STATS_CACHE_DIR="")."""
  path = os.environ.get(CACHE_ENV)
  if path is None:
    path = os.path.join(os.path.expanduser("~"), ".cache", "aigc_jax", "stats")
  return path or None


def _update_with_file(digest, path):
  with open(path, "rb") as f:
    while chunk := f.read(_CHUNK):
      digest.update(chunk)


@functools.lru_cache(maxsize=8)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
  """sha256 of a file, remembered per (path, size, mtime) within a process."""
  del size, mtime_ns  # part of the lru key only
  digest = hashlib.sha256()
  _update_with_file(digest, path)
  return digest.hexdigest()


def file_sha256(path) -> str:
  """The sha256 hex digest of a file's bytes (a weights file is hashed once per process)."""
  path = os.fspath(path)
  st = os.stat(path)
  return _file_sha256(os.path.abspath(path), st.st_size, st.st_mtime_ns)


def content_key(*, files=None, root=None, array=None, num_images=None, weights_path=None,
                resize: str = "pytorch", extra: str = "") -> str:
  """The cache key (sha256 hex) of a reference set and how its features are computed.

  Args:
    files: image file paths (in the order they are read), hashed with their paths
      relative to `root`; or
    array: the uint8 images themselves.
    num_images: how many images are used (None: all).
    weights_path: the Inception weights file, hashed by content.
    resize: the resize mode.
    extra: anything else the statistics depend on.
  """
  digest = hashlib.sha256(b"aigc_jax reference statistics v1\0")
  if files is not None:
    for path in files:
      digest.update(os.path.relpath(path, root or os.path.dirname(path)).encode() + b"\0")
      _update_with_file(digest, path)
  if array is not None:
    array = np.ascontiguousarray(array)
    digest.update(f"{array.shape}{array.dtype}\0".encode())
    digest.update(memoryview(array).cast("B"))
  weights = file_sha256(weights_path) if weights_path else ""
  digest.update(f"\0{num_images}\0{weights}\0{resize}\0{extra}".encode())
  return digest.hexdigest()


def load(key: str):
  """(mu, sigma, num_images) stored under `key`, or None when absent or disabled."""
  folder = cache_dir()
  path = folder and os.path.join(folder, f"{key}.npz")
  if not path or not os.path.isfile(path):
    return None
  try:
    with np.load(path) as f:
      return (np.asarray(f["mu"], np.float64), np.asarray(f["sigma"], np.float64),
              int(f["num_images"]))
  except (OSError, KeyError, ValueError):  # a half-written or foreign file: recompute
    return None


def store(key: str, mu, sigma, num_images: int) -> None:
  """Stores statistics under `key` (atomically: written aside, then renamed)."""
  folder = cache_dir()
  if not folder:
    return
  os.makedirs(folder, exist_ok=True)
  tmp = os.path.join(folder, f".{key}.{os.getpid()}.npz")
  np.savez(tmp, mu=np.asarray(mu, np.float64), sigma=np.asarray(sigma, np.float64),
           num_images=np.int64(num_images))
  os.replace(tmp, os.path.join(folder, f"{key}.npz"))
