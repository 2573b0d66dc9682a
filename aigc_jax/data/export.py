"""Generated images as data: `aigc sample --out-dir` writes one PNG per sample.

The folder it writes is a folder dataset (`aigc_jax.data.folder`): flat for an
unconditional run, one sub-folder per label (named by the label) for a class-conditional
one, so any family can train on it (`--config.data.name=folder --config.data.path=OUT`)
and `aigc stats` / `aigc eval` can read it. Files are `000000.png`, `000001.png`, ...
(numbered within their folder), grey PNGs for one-channel images.
"""

import os

import jax
import numpy as np
from PIL import Image

from aigc_jax.errors import UserError

# Samples generated per call of `generate`: bounds the memory of a large export.
CHUNK = 1024


def write_images(images, out_dir, start: int = 0) -> list[str]:
  """uint8 [N, H, W, C] (C = 1 or 3) -> `out_dir/{start + i:06d}.png`; returns the paths."""
  images = np.asarray(images)
  if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] not in (1, 3):
    raise ValueError(f"expected uint8 [N, H, W, 1 or 3], got {images.dtype} {images.shape}")
  try:
    os.makedirs(out_dir, exist_ok=True)
  except OSError as e:
    raise UserError(f"cannot write to {out_dir}: {e.strerror}") from e
  paths = []
  for i, image in enumerate(images):
    path = os.path.join(out_dir, f"{start + i:06d}.png")
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(path)
    paths.append(path)
  return paths


def export_samples(generate, out_dir, num: int, key, label_names=()) -> list[str]:
  """Writes `num` generated images as PNG files under `out_dir`; returns their paths.

  Args:
    generate: `(key, n, labels) -> uint8 [n, H, W, C]`, `labels` a list of label names
      (one, repeated over the n samples) or None for an unconditional run; e.g.
      `lambda k, n, labels: task.generate(config, state, k, n, labels=labels)`.
    out_dir: the folder to write.
    num: how many images in all; a conditional run splits them over the labels as
      evenly as it can (the first `num % K` labels get one more).
    key: a JAX key; chunk c of label j uses `fold_in(fold_in(key, j), c)`.
    label_names: the run's class names, or () for an unconditional run.
  """
  if num < 1:
    raise UserError("--num must be at least 1")
  if not label_names:
    return _export(generate, out_dir, num, key, None)
  paths = []
  k = len(label_names)
  for j, name in enumerate(label_names):
    count = num // k + (j < num % k)
    if count:
      paths += _export(generate, os.path.join(out_dir, name), count, jax.random.fold_in(key, j), [name])
  return paths


def _export(generate, out_dir, num, key, labels):
  paths = []
  for c, start in enumerate(range(0, num, CHUNK)):
    n = min(CHUNK, num - start)
    paths += write_images(generate(jax.random.fold_in(key, c), n, labels), out_dir, start)
  return paths
