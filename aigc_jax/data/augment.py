"""Image augmentations as pure, jit-able JAX functions with explicit keys.

Each function takes a key and a batch of NHWC float images in [-1, 1] and returns a batch
of the same shape, dtype and range; the same key gives the same result. They run inside
a jitted train step. dm-pix supplies the per-image primitives; this module draws the
per-image random parameters and vmaps over the batch.
"""

import jax
import jax.numpy as jnp
import dm_pix as pix


def random_flip(key, images):
  """Flips each image left-right with probability 1/2."""
  keys = jax.random.split(key, images.shape[0])
  return jax.vmap(pix.random_flip_left_right)(keys, images)


def random_translate(key, images, max_shift: int):
  """Shifts each image by up to `max_shift` pixels in x and y (pad by edge, random crop)."""
  if max_shift <= 0:
    return images
  b, h, w, c = images.shape
  padded = jnp.pad(images, ((0, 0), (max_shift, max_shift), (max_shift, max_shift), (0, 0)), mode="edge")
  keys = jax.random.split(key, b)
  return jax.vmap(lambda k, im: pix.random_crop(k, im, (h, w, c)))(keys, padded)


def random_rotate(key, images, max_degrees: float):
  """Rotates each image about its centre by an angle uniform in [-max, max] degrees.

  Bilinear interpolation; pixels that come from outside the image take the value of the
  background, -1 (black), so the range stays [-1, 1].
  """
  if max_degrees <= 0:
    return images
  angles = jax.random.uniform(key, (images.shape[0],), minval=-1.0, maxval=1.0) * jnp.deg2rad(max_degrees)
  rotate = lambda im, a: pix.rotate(im, a, order=1, mode="constant", cval=-1.0)
  return jax.vmap(rotate)(images, angles)


def augment(key, images, *, flip: bool = False, max_shift: int = 0, max_degrees: float = 0.0):
  """Applies the enabled augmentations in a fixed order: rotate, translate, flip."""
  k_rot, k_shift, k_flip = jax.random.split(key, 3)
  images = random_rotate(k_rot, images, max_degrees)
  images = random_translate(k_shift, images, max_shift)
  if flip:
    images = random_flip(k_flip, images)
  return images
