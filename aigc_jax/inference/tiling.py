"""Running a fully convolutional network over an image of any size, in overlapping tiles.

A network applied to a whole 4000x3000 image holds its activations for every pixel at
once (gigabytes for a few 32-channel layers). Applied to tiles of one size, a few tiles
per call (`aigc_jax.train.chunked`, as `restoration.restore` and
`cyclegan.translate_batch` run), it needs memory for one chunk of tiles whatever the
image's size, and compiles once.

  layout = plan(height, width, tile=512, overlap=96, multiple=4)
  out = merge(layout, fn(split(layout, image)))   # or tiled_apply(fn, image, tile=..., ...)

The layout, along each axis of length L (a multiple of `multiple`):
- tiles of side T = min(tile, L) start at 0, S, 2S, ... (stride S = T - overlap), and
  the last one ends at L exactly (so the last overlap can be wider). Every start is a
  multiple of `multiple`: a network that downsamples by that factor sees the same
  pixel grid in a tile as in the whole image.
- where two tiles overlap by O >= overlap pixels, each drops its outputs within
  (O - b) / 2 pixels of its inner edge, b = min(blend, O): there the network saw its
  own padding instead of the image. Across the central b pixels the two outputs are
  mixed with complementary linear ramps, so that where they differ no seam shows.
  A tile's weight is the product of its two axes' windows; the output is the weighted
  mean of the tiles covering each pixel.

Exactness: a network whose output at a pixel depends only on the inputs within `r`
pixels of it (its receptive radius) gives the whole-image result, to float rounding,
whenever (overlap - blend) / 2 >= r: every output kept from a tile was computed from
the same inputs as in the whole image, and tiles on the image's border pad there as
the whole image does. A network with image-wide statistics (CycleGAN's instance
normalisation) is only approximated: each tile is normalised with its own statistics.
`overlap_for` and `tile_for` give the sizes that make a network of radius `r` exact.
"""

from typing import NamedTuple

import numpy as np

from aigc_jax.errors import UserError

# Smallest default tile side: large enough that the overlap (the extra work) stays a
# small share, small enough that a chunk of a few tiles of a 32-64-channel network
# fits in a few hundred MB.
MIN_TILE = 512
# Default width of the blended band in each overlap.
BLEND = 32


class Layout(NamedTuple):
  """Where the tiles of an image lie: `ys` x `xs` starts of tiles `tile_h` x `tile_w`,
  and each tile's weight window along each axis (float32 [tile_h], [tile_w])."""
  height: int
  width: int
  tile_h: int
  tile_w: int
  ys: tuple
  xs: tuple
  wy: tuple
  wx: tuple

  @property
  def num_tiles(self) -> int:
    return len(self.ys) * len(self.xs)

  def origins(self):
    """(y, x, wy, wx) of every tile, rows first: the order of `split` and `merge`."""
    return [(y, x, wy, wx) for y, wy in zip(self.ys, self.wy) for x, wx in zip(self.xs, self.wx)]


def round_up(n: int, multiple: int) -> int:
  return -(-n // multiple) * multiple


def overlap_for(radius: int, multiple: int = 1, blend: int = BLEND) -> int:
  """The smallest overlap (a multiple of `multiple`) that keeps `radius` pixels of
  context on each side of a `blend`-wide band: tiling is then exact."""
  return round_up(2 * radius + blend, multiple)


def tile_for(overlap: int, multiple: int = 1, min_tile: int = MIN_TILE) -> int:
  """A tile side for `overlap`: at least `min_tile` and 4 x the overlap, so the overlap
  costs at most (4/3)^2 = 1.8x the work of the image itself."""
  return round_up(max(min_tile, 4 * overlap), multiple)


def _starts(length: int, tile: int, stride: int) -> tuple:
  if length == tile:
    return (0,)
  return tuple(range(0, length - tile, stride)) + (length - tile,)


def _ramp(q, z0: float, width: float):
  """0 before z0, 1 after z0 + width, linear between (a step at z0 if width is 0)."""
  if width <= 0:
    return (q > z0).astype(np.float32)
  return np.clip((q - z0) / width, 0, 1).astype(np.float32)


def _windows(starts: tuple, tile: int, blend: int) -> tuple:
  """Each tile's weights along one axis, float32 [tile]."""
  windows = []
  for k, start in enumerate(starts):
    q = start + np.arange(tile) + 0.5  # Pixel centres.
    w = np.ones(tile, np.float32)
    for a, b, rising in ((k - 1, k, True), (k, k + 1, False)):
      if a < 0 or b >= len(starts):
        continue
      o = starts[a] + tile - starts[b]
      band = min(blend, o)
      ramp = _ramp(q, starts[b] + (o - band) / 2, band)
      w = w * (ramp if rising else 1 - ramp)
    windows.append(w)
  return tuple(windows)


def plan(height: int, width: int, *, tile: int, overlap: int, multiple: int = 1, blend: int | None = None) -> Layout:
  """The tiles covering an image [height, width] (both multiples of `multiple`).

  `tile` is rounded down and `overlap` up to multiples of `multiple`; `blend` (default
  `BLEND`, at most the overlap) is the width of the mixed band. An image that fits in
  one tile is one tile, weighted 1: the whole-image computation.
  """
  if height % multiple or width % multiple:
    raise ValueError(f"image {height}x{width} is not padded to a multiple of {multiple}")
  tile = tile // multiple * multiple
  overlap = round_up(max(overlap, 0), multiple)
  if tile < multiple or overlap >= tile:
    raise UserError(f"tiles of {tile} pixels with an overlap of {overlap}: the tile must be larger than the "
                    f"overlap and at least {multiple} pixels")
  blend = min(BLEND if blend is None else max(blend, 0), overlap)
  tile_h, tile_w = min(tile, height), min(tile, width)
  ys = _starts(height, tile_h, tile_h - overlap)
  xs = _starts(width, tile_w, tile_w - overlap)
  return Layout(height, width, tile_h, tile_w, ys, xs, _windows(ys, tile_h, blend), _windows(xs, tile_w, blend))


def split(layout: Layout, image) -> np.ndarray:
  """[H, W, ...] -> the tiles, [num_tiles, tile_h, tile_w, ...] (a copy)."""
  image = np.asarray(image)
  return np.stack([image[y:y + layout.tile_h, x:x + layout.tile_w] for y, x, _, _ in layout.origins()])


def merge(layout: Layout, tiles) -> np.ndarray:
  """The tiles' outputs [num_tiles, tile_h, tile_w, C] -> their blend, float32 [H, W, C]."""
  tiles = np.asarray(tiles)
  out = np.zeros((layout.height, layout.width) + tiles.shape[3:], np.float32)
  total = np.zeros((layout.height, layout.width), np.float32)
  for t, (y, x, wy, wx) in zip(tiles, layout.origins()):
    w = wy[:, None] * wx[None, :]
    out[y:y + layout.tile_h, x:x + layout.tile_w] += t * w.reshape(w.shape + (1,) * (t.ndim - 2))
    total[y:y + layout.tile_h, x:x + layout.tile_w] += w
  assert total.min() > 0, "every pixel must have a tile with a positive weight"
  return out / total.reshape(total.shape + (1,) * (out.ndim - 2))


def tiled_apply(fn, *images, tile: int, overlap: int, multiple: int = 1, blend: int | None = None) -> np.ndarray:
  """`fn` over `images` ([H, W, ...] each, H and W multiples of `multiple`) in tiles.

  `fn(*stacks)` maps the tiles of each image, [n, tile_h, tile_w, ...], to outputs
  [n, tile_h, tile_w, C]; it should run them a few at a time in one shape
  (`chunked.chunked_apply`), which bounds the network's memory by the tile size.
  Returns float32 [H, W, C], the blend described in the module docstring.
  """
  height, width = np.shape(images[0])[:2]
  layout = plan(height, width, tile=tile, overlap=overlap, multiple=multiple, blend=blend)
  return merge(layout, fn(*(split(layout, image) for image in images)))
