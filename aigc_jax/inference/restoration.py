"""Restoring a user's images: with a trained inpainting or denoising run, or with
non-local means and no training.

  run = inference.load("runs/inpaint_digits")
  filled = restoration.inpaint(image_uint8, mask, run=run)               # uint8 [H, W, 3]
  clean = restoration.denoise(noisy_uint8, sigma=0.1, method="nlmeans")   # no run needed

Images are uint8 [H, W, C] of any size (C = 1 or 3); masks bool [H, W], True where pixels
are missing. A run works at its own channel count (a grey run sees the luma); outputs
are RGB uint8 of the input's size. The policies the command line relies on live here:
the default non-local means strength (the run's tuned `nlmeans`, else h 0.1 for holes
and 0.6 x sigma for noise) and the centre mask's size (the run's, else half the side).

The network runs over an image larger than a tile in overlapping tiles
(`aigc_jax.inference.tiling`), so memory is bounded by the tile size whatever the
image's: by default the overlap keeps the network's whole receptive field
(`receptive_radius`) around every kept pixel, which makes the tiled result the
whole-image one to float rounding (docs/restoration.md, "Large images").
"""

import dataclasses

import numpy as np

from aigc_jax import images as images_lib
from aigc_jax.errors import UserError
from aigc_jax.inference import tiling
from aigc_jax.models import restoration as restoration_models
from aigc_jax.restoration import masks as masks_lib
from aigc_jax.restoration import nlmeans
from aigc_jax.train import restoration

METHODS = ("model", "nlmeans")
# Non-local means' strength without a run: h for holes; for noise, this times sigma.
DEFAULT_H, NOISE_H_PER_SIGMA = 0.1, 0.6
DEFAULT_CENTER_FRACTION = 0.5
# Tiles per network call: with 512-pixel tiles of a 32-channel network, well under 1 GB.
TILE_CHUNK = 4


def check_run(mode: str, workdir: str):
  """A `check` for `inference.load`: the run must be a restoration run of `mode`."""
  def check(config):
    if config.get("task") != "restoration" or config.get("mode") != mode:
      kind = config.get("mode") if config.get("task") == "restoration" else config.get("task")
      raise UserError(f"{workdir!r} holds a {kind!r} run; `aigc {mode}` needs a {mode} run "
                      f"(e.g. configs/{mode}_digits.py), or use --method nlmeans")
  return check


def nlmeans_options(opts=None, *, sigma: float | None = None, **overrides) -> restoration.NLMeansOptions:
  """Non-local means parameters: `overrides` that are not None, else the run's tuned
  `nlmeans` (`opts`), else patch 5, distance 6 and h 0.1 (0.6 x sigma for noise). Checked."""
  if opts is not None:
    base = opts.nlmeans
  else:
    h = NOISE_H_PER_SIGMA * sigma if sigma is not None else DEFAULT_H
    base = restoration.NLMeansOptions(patch_size=5, patch_distance=6, h=h)
  chosen = dataclasses.replace(base, **{k: v for k, v in overrides.items() if v is not None})
  chosen.check()
  return chosen


def _to_float(image, opts):
  """uint8 [H, W, C] -> float32 [H, W, C'] in [0, 1], C' the run's channel count."""
  x = np.asarray(image)
  if opts is not None:
    x = images_lib.to_channels(x, opts.data.channels)
  return x.astype(np.float32) / 255


def _to_uint8(x01):
  x = np.clip(np.round(np.asarray(x01) * 255), 0, 255).astype(np.uint8)
  return images_lib.to_channels(x, 3)


def receptive_radius(depth: int, dilations) -> int:
  """How far, in pixels, an output of `RestorationNet(depth=depth, dilations=dilations)`
  sees: 2**depth x (6 + sum(dilations)) - 4.

  The terms, in input pixels: the first and last 3x3 convolutions (1 each); at each
  level l = 1..depth, the 4x4 stride-2 and the 3x3 encoder convolutions (1.5 and 2
  pixels of the level above's spacing) and the decoder's two 3x3 convolutions (2**l in
  all); each dilated 3x3 convolution at the bottom (d x 2**depth); and the nearest
  neighbour upsampling's half-pixel shifts (2**(depth-1) - 0.5). The tests check it
  against the support of the network's gradient.
  """
  return 2**depth * (6 + sum(dilations)) - 4


def tile_sizes(opts, tile: int | None = None, overlap: int | None = None) -> tuple[int, int]:
  """(tile, overlap) for a run: those given, else an overlap that keeps the network's
  receptive radius on each side of the blended band (exact tiling) and a tile of at
  least 512 pixels and 4 x the overlap (`tiling.overlap_for`, `tiling.tile_for`)."""
  m = restoration_models.multiple(opts.model.depth)
  if overlap is None:
    overlap = tiling.overlap_for(receptive_radius(opts.model.depth, opts.model.dilations), m)
  if tile is None:
    tile = tiling.tile_for(overlap, m)
  return tile, overlap


def restore_image(run, corrupted01, mask, *, tile: int | None = None, overlap: int | None = None,
                  chunk: int = TILE_CHUNK) -> np.ndarray:
  """The model on one image of any size: float32 [H, W, C] on the [0, 1] scale (noisy, or
  with anything in its holes) and mask bool [H, W] (all False for denoising) -> the
  restored image [H, W, C] on [0, 1], known pixels copied when inpainting.

  The image is reflect-padded to a multiple of the network's downsampling factor (the
  padding's mask reflected too), restored in tiles of side `tile` overlapping by
  `overlap` (defaults: `tile_sizes`; one tile, the whole image, if it fits), `chunk`
  tiles per call, and cropped back.
  """
  opts = run.opts
  h, w = corrupted01.shape[:2]
  m = restoration_models.multiple(opts.model.depth)
  tile, overlap = tile_sizes(opts, tile, overlap)
  pad = ((0, -h % m), (0, -w % m))
  pad_mode = "reflect" if min(h, w) > 1 else "edge"
  x = np.pad(np.asarray(corrupted01, np.float32) * 2 - 1, pad + ((0, 0),), mode=pad_mode)
  holes = np.pad(np.asarray(mask, np.float32), pad, mode=pad_mode)[..., None]
  if opts.mode == "inpaint":
    x = np.where(holes > 0.5, 0.0, x)  # The holes' content never reaches the network.

  def network(corrupted, hole_tiles):
    return restoration.restore(opts, run.state, corrupted, hole_tiles, chunk=chunk)
  out = (tiling.tiled_apply(network, x, holes, tile=tile, overlap=overlap, multiple=m)[:h, :w] + 1) / 2
  if opts.mode == "inpaint":
    out = np.where(np.asarray(mask)[..., None], out, corrupted01)
  return out


def draw_mask(kind: str, key, height: int, width: int, opts=None) -> np.ndarray:
  """bool [height, width]: a mask of `kind` ("center" takes the run's fraction)."""
  if kind == "center":
    fraction = opts.mask.center_fraction if opts is not None else DEFAULT_CENTER_FRACTION
    return np.asarray(masks_lib.center(height, width, fraction=fraction))
  return np.asarray(masks_lib.MASKS[kind](key, height, width))


def inpaint(image, mask, *, run=None, method: str = "model", nlmeans_params=None,
            tile: int | None = None, overlap: int | None = None) -> np.ndarray:
  """uint8 [H, W, C] with holes `mask` bool [H, W] -> uint8 RGB [H, W, 3], filled by the
  run's network (`method` "model", in tiles: `restore_image`) or non-local means
  (`nlmeans_params`, or `nlmeans_options(run.opts)`)."""
  opts = None if run is None else run.opts
  x = _to_float(image, opts)
  if method == "model":
    return _to_uint8(restore_image(run, x, mask, tile=tile, overlap=overlap))
  p = nlmeans_params or nlmeans_options(opts)
  return _to_uint8(nlmeans.inpaint(x, mask, patch_size=p.patch_size, patch_distance=p.patch_distance, h=p.h))


def denoise(image, *, sigma: float, run=None, method: str = "model", nlmeans_params=None,
            noise_key=None, tile: int | None = None, overlap: int | None = None) -> np.ndarray:
  """uint8 [H, W, C] (or float [0, 1] noisy values) with noise of std `sigma` -> uint8
  RGB [H, W, 3]; `noise_key` first adds such noise (to try a method on clean images).
  The model runs in tiles (`restore_image`)."""
  opts = None if run is None else run.opts
  x = _to_float(image, opts) if np.asarray(image).dtype == np.uint8 else np.asarray(image, np.float32)
  if noise_key is not None:
    x = np.asarray(masks_lib.add_gaussian_noise(noise_key, x, sigma))
  if method == "model":
    return _to_uint8(restore_image(run, x, np.zeros(x.shape[:2], bool), tile=tile, overlap=overlap))
  p = nlmeans_params or nlmeans_options(opts, sigma=sigma)
  return _to_uint8(nlmeans.denoise(x, sigma=sigma, patch_size=p.patch_size, patch_distance=p.patch_distance, h=p.h))
