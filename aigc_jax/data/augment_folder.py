"""`aigc augment`: new training images from a folder by rotation, flip, crop and colour.

Writes `copies` augmented variants of every image under `input` (the folder layout,
class sub-folders included, is kept under `out`), made with the jit-able functions the
training uses (`aigc_jax.data.augment.apply_ops`). Image i's variant k uses the key
`fold_in(fold_in(key(seed), i), k)` with i its position in sorted path order, so the
same seed gives the same files, and adding files to the folder changes only theirs and
those after them. Grey images stay grey, colour images are written as RGB, at their
own size. Unreadable files are skipped with a warning each, like preparation does.
"""

import functools
import os
import warnings

import jax
import numpy as np
from PIL import Image

from aigc_jax.data import augment, folder, pipeline
from aigc_jax.errors import UserError


def parse_ops(text: str) -> tuple[str, ...]:
  """"flip,rotate" -> ("flip", "rotate"); a UserError names the valid ops."""
  ops = tuple(s.strip() for s in text.split(",") if s.strip())
  unknown = [op for op in ops if op not in augment.OPS]
  if unknown or not ops:
    raise UserError(f"unknown --ops {', '.join(unknown) or repr(text)}; choose from {', '.join(augment.OPS)}")
  return ops


@functools.partial(jax.jit, static_argnums=(2, 3))
def _variants(key, image, copies, ops):
  """float [H, W, C] -> `copies` variants [copies, H, W, C], one key each."""
  keys = jax.vmap(lambda k: jax.random.fold_in(key, k))(np.arange(copies))
  return jax.vmap(lambda k: augment.apply_ops(k, image[None], ops)[0])(keys)


def augment_folder(input_dir, out_dir, copies: int, ops, seed: int = 0) -> list[str]:
  """Writes `copies` variants of each image under `input_dir` to `out_dir` as
  `<same relative folder>/<stem>_aug<k>.png`; returns the paths written.

  Raises UserError if `input_dir` is not a folder, holds no readable image, `copies` is
  below 1 or an op is unknown.
  """
  ops = parse_ops(ops) if isinstance(ops, str) else tuple(ops)
  parse_ops(",".join(ops))
  if copies < 1:
    raise UserError(f"--copies must be at least 1, got {copies}")
  if not os.path.isdir(input_dir):
    raise UserError(f"--input {input_dir!r} is not a folder")
  root = os.path.abspath(input_dir)
  files = folder.list_files(root)
  base_key = jax.random.key(seed)
  written = []
  for i, path in enumerate(files):
    try:
      image = folder.load_image(path, max_size=1 << 30)
    except Exception as e:  # noqa: BLE001  (PIL raises many types for bad files)
      warnings.warn(f"skipping {path}: not a readable image ({type(e).__name__}: {e})", stacklevel=2)
      continue
    grey = image.ndim == 2
    x = pipeline.to_model_range(image[..., None] if grey else image)
    out = pipeline.to_uint8(_variants(jax.random.fold_in(base_key, i), x, copies, ops))
    target = os.path.join(out_dir, os.path.relpath(os.path.dirname(path), root))
    os.makedirs(target, exist_ok=True)
    stem = os.path.splitext(os.path.basename(path))[0]
    for k, variant in enumerate(out):
      name = os.path.join(target, f"{stem}_aug{k}.png")
      Image.fromarray(variant[..., 0] if grey else variant).save(name)
      written.append(name)
  if not written:
    raise UserError(f"no readable image under {input_dir}")
  return written
