"""What a trained CycleGAN does: translate images of any size between its two domains.

  run = inference.load("runs/cyclegan_photos")
  zebra = cyclegan.translate(run, horse_uint8, "AtoB")     # uint8 [H, W, 3], same size

An image larger than a tile is translated in overlapping tiles
(`aigc_jax.inference.tiling`), so memory is bounded by the tile size. The generator's
convolutions see `receptive_radius` pixels, and the default overlap keeps that much
context around every kept pixel; but its instance normalisation uses each tile's own
statistics, not the whole image's, so a tiled translation differs from a whole-image one
(docs/restoration.md, "Large images", measures by how much). The tile is at least 512
pixels: larger than the 256x256 crops the release trains on, whose statistics the
generator learnt.
"""

import numpy as np

from aigc_jax.data import pipeline
from aigc_jax.errors import UserError
from aigc_jax.inference import tiling
from aigc_jax.train import cyclegan

# Tiles per generator call: 2 tiles of a 64-channel generator at full resolution stay
# within a few GB.
TILE_CHUNK = 2


def receptive_radius(n_blocks: int) -> int:
  """How far, in pixels, a `ResnetGenerator` output's convolutions see (instance norm
  aside): 12 + 8 x n_blocks. The 7x7 convolutions at both ends (3 each), the two
  stride-2 3x3 downsamplings (1 and 2), two 3x3 convolutions per residual block at a
  quarter resolution (8 per block), the two transposed 3x3 upsamplings (2 and 1); the
  tests check it against the gradient of a generator without normalisation."""
  return 12 + 8 * n_blocks


def tile_sizes(opts, tile: int | None = None, overlap: int | None = None) -> tuple[int, int]:
  """(tile, overlap) for a run: those given, else an overlap that keeps the receptive
  radius on each side of the blended band, and a tile of at least 512 pixels and
  4 x the overlap (`tiling.overlap_for`, `tiling.tile_for`)."""
  if overlap is None:
    overlap = tiling.overlap_for(receptive_radius(opts.model.n_blocks), cyclegan.MULTIPLE)
  if tile is None:
    tile = tiling.tile_for(overlap, cyclegan.MULTIPLE)
  if tile < cyclegan.MIN_SIZE:
    raise UserError(f"--tile {tile} is too small: CycleGAN needs at least {cyclegan.MIN_SIZE} pixels")
  return tile, overlap


def translate(run, image, direction: str = "AtoB", *, tile: int | None = None, overlap: int | None = None,
              chunk: int = TILE_CHUNK) -> np.ndarray:
  """One uint8 image [H, W, 3] (any size of at least 8x8) -> its translation, uint8 [H, W, 3].

  The generator needs sides that are multiples of 4: the image is padded by reflection
  at the bottom and right up to the next multiple and the output cropped back. An image
  larger than `tile` (default: `tile_sizes`) is translated in tiles overlapping by
  `overlap`, `chunk` tiles per call.
  """
  if direction not in cyclegan.DIRECTIONS:
    raise UserError(f"unknown direction {direction!r}; choose one of {', '.join(cyclegan.DIRECTIONS)}")
  image = np.asarray(image)
  if image.ndim != 3 or image.shape[-1] != 3:
    raise UserError(f"translate needs an RGB image [H, W, 3], got shape {image.shape}")
  h, w = image.shape[:2]
  if min(h, w) < cyclegan.MIN_SIZE:
    raise UserError(f"image is {h}x{w}; CycleGAN needs at least {cyclegan.MIN_SIZE}x{cyclegan.MIN_SIZE} pixels")
  tile, overlap = tile_sizes(run.opts, tile, overlap)
  m = cyclegan.MULTIPLE
  x = pipeline.to_model_range(np.pad(image, ((0, -h % m), (0, -w % m), (0, 0)), mode="reflect"))

  def generator(tiles):
    return cyclegan.translate_batch(run.opts, run.state, tiles, direction, chunk=chunk)
  return pipeline.to_uint8(tiling.tiled_apply(generator, x, tile=tile, overlap=overlap, multiple=m)[:h, :w])


def sample(run, key, num, labels=None, attributes=None):
  del key, num, labels, attributes
  raise UserError("a CycleGAN translates images instead of sampling them: use "
                  f"`aigc translate --workdir {run.workdir} --input IMAGE_OR_FOLDER --out OUT [--direction BtoA]`")
