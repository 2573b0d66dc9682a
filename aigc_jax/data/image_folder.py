"""Reading image files and folders into uint8 RGB arrays, skipping what cannot be read.

Every command that reads user images goes through here: `aigc translate`, `inpaint`,
`denoise`, `reconstruct` (`read_inputs`), CycleGAN's folder source
(`load_image_folder`), and `aigc stats` / `eval` on a folder (`image_files`, recursive).

A real folder of photos holds the odd file that is not an image (a README, a half
downloaded JPEG, a `Thumbs.db`): each such file is skipped with a warning that names it,
so one bad file never ends a long run. Images come out as uint8 [H, W, 3] (grey,
palette and RGBA images are converted to RGB; alpha is dropped) at their stored size.
"""

import os
import warnings

import numpy as np
from PIL import Image

from aigc_jax.errors import UserError


# PIL's modes of 16-bit (and 32-bit integer) grey images: their values are scaled to
# 8 bits (v * 255 / 65535), where PIL's own conversion would clip everything above 255.
SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def eight_bit(image: Image.Image) -> Image.Image:
  """A 16-bit grey PIL image as 8-bit grey ("L"), scaled; any other image unchanged."""
  if image.mode not in SIXTEEN_BIT_MODES:
    return image
  values = np.asarray(image).astype(np.int64)
  if values.size and (values.min() < 0 or values.max() > 65535):
    raise ValueError(f"mode {image.mode} values outside 0..65535")
  return Image.fromarray(np.round(values * (255.0 / 65535.0)).astype(np.uint8))


def read_image(path) -> np.ndarray:
  """The image file at `path` as uint8 [H, W, 3]; a UserError if it cannot be read.
  16-bit images are scaled to 8 bits (`eight_bit`), not clipped."""
  path = os.fspath(path)
  if not os.path.isfile(path):
    raise UserError(f"image file not found: {path}")
  try:
    with Image.open(path) as image:
      return np.asarray(eight_bit(image).convert("RGB"))
  # PIL signals bad files with several types (OSError, SyntaxError for broken PNG
  # chunks, ValueError, DecompressionBombError); a bad file is the user's to fix.
  except Exception as e:  # noqa: BLE001
    raise UserError(f"cannot read image {path}: {e}") from e


def load_image_folder(path) -> list[tuple[str, np.ndarray]]:
  """The images directly inside folder `path`, as [(file name, uint8 [H, W, 3])].

  Files are read in sorted name order, so the list is the same on every machine.
  Sub-folders and hidden files (names starting with ".") are ignored; any other file
  that is not a readable image is skipped with a `UserWarning` naming it and saying
  why. Raises UserError if `path` is not a folder or holds no readable image.
  """
  path = os.fspath(path)
  if not os.path.isdir(path):
    raise UserError(f"not a folder: {path}")
  images = []
  for name in sorted(os.listdir(path)):
    file = os.path.join(path, name)
    if name.startswith(".") or not os.path.isfile(file):
      continue
    try:
      images.append((name, read_image(file)))
    except UserError as e:
      warnings.warn(f"skipping {file}: not a readable image ({e.__cause__})", stacklevel=2)
  if not images:
    raise UserError(f"no readable images in {path}")
  return images


IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def image_files(folder) -> list[str]:
  """The paths of the image files (by extension) under `folder`, recursively.

  Sorted (folders walked in sorted order), so every machine reads them in one order.
  Raises UserError if `folder` is not a folder or holds no image file.
  """
  folder = os.fspath(folder)
  if not os.path.isdir(folder):
    raise UserError(f"not a folder: {folder}")
  paths = []
  for root, dirs, files in os.walk(folder):
    dirs.sort()
    paths += [os.path.join(root, f) for f in sorted(files) if f.lower().endswith(IMAGE_EXTENSIONS)]
  if not paths:
    raise UserError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) found under {folder}")
  return paths


def read_inputs(path) -> tuple[list[tuple[str, np.ndarray]], bool]:
  """A command's `--input`: an image file or a folder of them.

  Returns ([(file name, uint8 [H, W, 3])], whether `path` is a folder); a folder is read
  with `load_image_folder`. Raises UserError if `path` does not exist.
  """
  path = os.fspath(path)
  if not os.path.exists(path):
    raise UserError(f"--input {path!r} does not exist")
  if os.path.isdir(path):
    return load_image_folder(path), True
  return [(os.path.basename(path), read_image(path))], False


def output_paths(inputs, out: str, is_folder: bool) -> list[str]:
  """Where a command writes the results of `read_inputs`: `out` itself for a file input;
  for a folder, one PNG per input in folder `out`, named after it."""
  if not is_folder:
    return [out]
  return [os.path.join(out, os.path.splitext(name)[0] + ".png") for name, _ in inputs]
