"""Hole masks and corruptions for image restoration, as pure JAX functions.

A mask is a bool array [H, W] (or [B, H, W]) with True where a pixel is *missing*: the
pixels a restorer must fill. Images here are float arrays [H, W, C] (or [..., H, W, C])
in [0, 1], the scale on which restoration methods and their noise levels are usually
stated (a noise sigma of 0.1 is 10% of the range). Callers convert from and to the
library's model range [-1, 1] or uint8 at the edges.

The mask generators follow the inpainting literature's test masks:
  * `center`: one centred box (Context Encoders, Pathak et al., 2016);
  * `boxes`: a few random rectangles;
  * `strokes`: free-form brush strokes, random-walk polylines drawn with a thick brush
    (the irregular masks of partial convolutions, Liu et al., 2018, and of gated
    convolutions / DeepFill v2, Yu et al., 2019).
Every random generator takes an explicit key and returns the same mask for the same
key. The generators are jit-compiled with static `height` and `width` (run op by op,
each small operation would be compiled on its own, which takes longer than compiling
the whole once); shapes never depend on the key, so the shapes drawn are compared
against coordinate grids instead of sliced. `MASKS` names them for `sample_masks`,
which draws a batch.
"""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from aigc_jax.errors import UserError


def _uniform_int(u, low: int, high: int):
  """Integers uniform in {low, ..., high} from uniforms u in [0, 1)."""
  return jnp.minimum(low + jnp.floor(u * (high - low + 1)).astype(jnp.int32), high)


@functools.partial(jax.jit, static_argnames=("height", "width", "fraction"))
def center(height: int, width: int, *, fraction: float = 0.5):
  """A centred box whose sides are round(fraction * side) pixels; bool [H, W].

  Deterministic (no key). An odd margin puts the extra pixel below / to the right.
  """
  box_h, box_w = round(fraction * height), round(fraction * width)
  top, left = (height - box_h) // 2, (width - box_w) // 2
  rows, cols = jnp.arange(height)[:, None], jnp.arange(width)[None, :]
  return (rows >= top) & (rows < top + box_h) & (cols >= left) & (cols < left + box_w)


@functools.partial(jax.jit, static_argnames=("height", "width", "max_boxes"))
def boxes(key, height: int, width: int, *, max_boxes: int = 3, min_fraction: float = 0.15,
          max_fraction: float = 0.45):
  """The union of 1..max_boxes random axis-aligned boxes; bool [H, W].

  The number of boxes is uniform in {1, ..., max_boxes}; each box's height and width
  are uniform in [min_fraction, max_fraction] of the image's height and width (rounded
  to whole pixels, at least 1), and its position is uniform among those that keep it
  inside the image.
  """
  # One draw for everything: each jax.random call compiles its own generator.
  u = jax.random.uniform(key, (1 + 4 * max_boxes,))
  count = _uniform_int(u[0], 1, max_boxes)
  sides = jnp.array([height, width], jnp.float32)
  fraction = min_fraction + (max_fraction - min_fraction) * u[1:1 + 2 * max_boxes]
  size = jnp.clip(jnp.round(fraction.reshape(max_boxes, 2) * sides), 1.0, sides)  # [N, 2]
  slack = sides - size
  start = jnp.minimum(jnp.floor(u[1 + 2 * max_boxes:].reshape(max_boxes, 2) * (slack + 1)),
                      slack)
  start, stop = start[:, :, None, None], (start + size)[:, :, None, None]
  rows = jnp.arange(height, dtype=jnp.float32)[:, None]
  cols = jnp.arange(width, dtype=jnp.float32)[None, :]
  inside = ((rows >= start[:, 0]) & (rows < stop[:, 0])
            & (cols >= start[:, 1]) & (cols < stop[:, 1]))  # [N, H, W]
  drawn = (jnp.arange(max_boxes) < count)[:, None, None]
  return jnp.any(inside & drawn, axis=0)


def _segment_distance(points, a, b):
  """Distance from points [..., 2] to the segments a-b [S, 2] (broadcast): [S, ...]."""
  extra = (None,) * (points.ndim - 1)
  a, b = a[(slice(None),) + extra], b[(slice(None),) + extra]  # [S, 1.., 2]
  ab, ap = b - a, points - a
  length2 = jnp.sum(ab * ab, axis=-1)
  # A zero-length segment is a point: project onto its start.
  t = jnp.where(length2 > 0, jnp.sum(ap * ab, axis=-1) / jnp.where(length2 > 0, length2, 1.0),
                0.0)
  nearest = a + jnp.clip(t, 0.0, 1.0)[..., None] * ab
  return jnp.sqrt(jnp.sum(jnp.square(points - nearest), axis=-1))


@functools.partial(
    jax.jit, static_argnames=("height", "width", "max_strokes", "max_vertices"))
def strokes(key, height: int, width: int, *, max_strokes: int = 4, max_vertices: int = 6,
            max_width_fraction: float = 0.12, max_length_fraction: float = 0.4):
  """Free-form brush strokes (as in partial-conv and DeepFill v2 training); bool [H, W].

  1..max_strokes strokes (uniform). Each is a random walk from a uniform start point
  through 2..max_vertices vertices: every step has a uniform direction and a length
  uniform in [0.25, 1] * max_length_fraction * min(H, W), and is clipped to the image,
  so a stroke never leaves it and stays one connected piece. A stroke is drawn as the
  pixels whose centre lies within half the brush width of one of its segments (round
  caps and joints); the width is uniform in [0.5, 1] * max_width_fraction * min(H, W)
  but at least 2 pixels, so that even a thin diagonal stroke has no gaps.
  """
  if max_vertices < 2:
    raise ValueError(f"max_vertices must be at least 2, got {max_vertices}")
  side = min(height, width)
  n_steps = max_vertices - 1
  # One draw for everything (see `boxes`): the stroke count, then per stroke the vertex
  # count, the start (2), the brush width, and per step an angle and a length.
  per_stroke = 4 + 2 * n_steps
  u = jax.random.uniform(key, (1 + max_strokes * per_stroke,))
  count = _uniform_int(u[0], 1, max_strokes)
  u = u[1:].reshape(max_strokes, per_stroke)
  vertices = _uniform_int(u[:, 0], 2, max_vertices)
  upper = jnp.array([height - 1, width - 1], jnp.float32)
  position = u[:, 1:3] * upper
  width_px = (0.5 + 0.5 * u[:, 3]) * max_width_fraction * side
  angle = 2 * math.pi * u[:, 4:4 + n_steps]
  length = (0.25 + 0.75 * u[:, 4 + n_steps:]) * max_length_fraction * side
  path = [position]
  for step in range(n_steps):
    move = length[:, step, None] * jnp.stack([jnp.sin(angle[:, step]),
                                               jnp.cos(angle[:, step])], axis=-1)
    # Clip every vertex (not the finished walk) so the next step starts inside.
    position = jnp.clip(position + move, 0.0, upper)
    path.append(position)
  path = jnp.stack(path)  # [max_vertices, S, 2]
  seg_a = path[:-1].reshape(-1, 2)  # [n_steps * S, 2], step-major
  seg_b = path[1:].reshape(-1, 2)
  step_index = jnp.repeat(jnp.arange(n_steps), max_strokes)
  stroke_index = jnp.tile(jnp.arange(max_strokes), n_steps)
  drawn = (step_index < vertices[stroke_index] - 1) & (stroke_index < count)
  half_width = 0.5 * jnp.maximum(width_px, 2.0)

  grid = jnp.stack(jnp.meshgrid(jnp.arange(height, dtype=jnp.float32),
                                jnp.arange(width, dtype=jnp.float32), indexing="ij"),
                   axis=-1)  # [H, W, 2], pixel centres as (row, col)
  distance = _segment_distance(grid, seg_a, seg_b)  # [segments, H, W]
  covered = distance <= half_width[stroke_index][:, None, None]
  return jnp.any(covered & drawn[:, None, None], axis=0)


def from_image(array) -> np.ndarray:
  """A user's mask image -> bool [H, W], True (missing) where the image is white.

  `array` is uint8 [H, W] or [H, W, C] (convert a PIL image with np.asarray); a pixel is
  missing where the mean of its colour channels is > 127. An alpha channel (C = 2 or 4)
  is ignored. A bool array is taken as a mask as it is, and a float image as being in
  [0, 1] (missing where the mean is > 0.5).
  """
  array = np.asarray(array)
  if array.dtype == bool:
    if array.ndim != 2:
      raise UserError(f"a bool mask must be [H, W], got shape {array.shape}")
    return array.copy()
  threshold = 0.5 if np.issubdtype(array.dtype, np.floating) else 127
  if array.ndim == 3:
    if array.shape[-1] in (2, 4):
      array = array[..., :-1]
    array = array.mean(axis=-1)
  elif array.ndim != 2:
    raise UserError(f"a mask image must be [H, W] or [H, W, C], got shape {array.shape}")
  return array > threshold


def _center_mask(key, height, width):
  del key  # Deterministic: the same box for every key.
  return center(height, width)


# Registry: name -> function(key, height, width) -> bool [H, W].
MASKS = {"center": _center_mask, "boxes": boxes, "strokes": strokes}


@functools.partial(jax.jit, static_argnames=("kind", "batch", "height", "width"))
def sample_masks(key, kind: str, batch: int, height: int, width: int):
  """A batch of masks of one kind, one split key per mask: bool [B, H, W]."""
  if kind not in MASKS:
    raise UserError(f"unknown mask type {kind!r}; choose one of {', '.join(MASKS)}")
  fn = MASKS[kind]
  return jax.vmap(lambda k: fn(k, height, width))(jax.random.split(key, batch))


def apply_mask(images, masks, fill=0.0):
  """Images [..., H, W, C] with the missing pixels (masks [..., H, W] True) set to `fill`."""
  return jnp.where(masks[..., None], jnp.asarray(fill, images.dtype), images)


def add_gaussian_noise(key, images, sigma):
  """Images plus N(0, sigma^2) noise per value, on the [0, 1] scale; same shape and dtype.

  Not clipped: the denoising literature states its noise levels for this unclipped
  additive model, and clipping would bias the noise near 0 and 1 and break the
  known-sigma assumption that restorers such as non-local means with `sigma` rely on.
  Callers clip for display only.
  """
  return images + sigma * jax.random.normal(key, images.shape, images.dtype)
