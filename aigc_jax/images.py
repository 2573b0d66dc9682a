"""Image grids, image files and colour conversion at the library's edges (uint8 NHWC)."""

import math
import os

import numpy as np
from PIL import Image

from aigc_jax.errors import UserError


def make_grid(images: np.ndarray, ncols: int | None = None, padding: int = 2, pad_value: int = 0) -> np.ndarray:
  """uint8 [N, H, W, C] -> one uint8 [rows*(H+p)+p, cols*(W+p)+p, C] image, row-major."""
  images = np.asarray(images)
  if images.dtype != np.uint8:
    raise ValueError(f"make_grid expects uint8 images, got {images.dtype}")
  n, h, w, c = images.shape
  ncols = ncols or int(math.ceil(math.sqrt(n)))
  nrows = int(math.ceil(n / ncols))
  grid = np.full((nrows * (h + padding) + padding, ncols * (w + padding) + padding, c), pad_value, np.uint8)
  for i in range(n):
    r, col = divmod(i, ncols)
    y, x = padding + r * (h + padding), padding + col * (w + padding)
    grid[y:y + h, x:x + w] = images[i]
  return grid


def save_image(image: np.ndarray, path: str, upscale: int = 1):
  """Writes a uint8 HWC image (C = 1 or 3) to `path`, atomically (temp file + rename).

  A path that cannot be written (no permission, a file where a folder should be) is a
  UserError naming it, so every command that writes images reports it in one line.
  """
  image = np.asarray(image)
  if upscale > 1:
    image = image.repeat(upscale, axis=0).repeat(upscale, axis=1)
  pil = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
  try:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    pil.save(tmp, format=_format(path))
    os.replace(tmp, path)
  except OSError as e:
    raise UserError(f"cannot write {path!r}: {e.strerror or e}") from e


def _format(path: str) -> str:
  ext = os.path.splitext(path)[1].lower()
  return {".jpg": "JPEG", ".jpeg": "JPEG"}.get(ext, "PNG")


def save_grid(images: np.ndarray, path: str, ncols: int | None = None, upscale: int | None = None):
  """Saves a grid of uint8 images; small images are upscaled (nearest) so they are visible."""
  if upscale is None:
    upscale = max(1, 64 // images.shape[1])
  grid = make_grid(images, ncols)
  save_image(grid, path, upscale=upscale)
  return grid


# ITU-R BT.601 luma weights, as PIL's "L" mode and most image libraries use them.
LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def to_grey(rgb):
  """float [..., 3] -> float [..., 1], the luma (same scale as the input)."""
  return (np.asarray(rgb, np.float32) @ LUMA)[..., None]


def to_channels(image, channels: int) -> np.ndarray:
  """uint8 [..., H, W, C] with C in (1, 3) -> uint8 [..., H, W, channels] (1 or 3):
  grey from RGB by luma (rounded), RGB from grey by repetition."""
  image = np.asarray(image)
  if image.shape[-1] == channels:
    return image
  if channels == 1:
    return np.clip(np.round(to_grey(image)), 0, 255).astype(np.uint8)
  return np.repeat(image, 3, axis=-1)
