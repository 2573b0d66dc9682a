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


def random_crop(key, images, scale: float):
  """Crops each image to `scale` of its height and width at a random position and
  resizes the crop back to the full size (bilinear): a random zoom-in. scale in (0, 1]."""
  b, h, w, c = images.shape
  ch, cw = max(1, round(h * scale)), max(1, round(w * scale))
  if (ch, cw) == (h, w):
    return images
  keys = jax.random.split(key, b)
  crops = jax.vmap(lambda k, im: pix.random_crop(k, im, (ch, cw, c)))(keys, images)
  return jnp.clip(jax.image.resize(crops, (b, h, w, c), "bilinear"), -1.0, 1.0)


def random_color(key, images, strength: float):
  """Jitters each image's brightness (+-strength), contrast and, for RGB images,
  saturation (factors in [1 - strength, 1 + strength]), then clips to [-1, 1]."""
  if strength <= 0:
    return images
  k_b, k_c, k_s = jax.random.split(key, 3)
  shape = (images.shape[0], 1, 1, 1)
  x = (images + 1.0) / 2.0  # [0, 1], where these adjustments are defined.
  x = x + jax.random.uniform(k_b, shape, minval=-strength, maxval=strength)
  mean = x.mean(axis=(1, 2, 3), keepdims=True)
  x = (x - mean) * jax.random.uniform(k_c, shape, minval=1 - strength, maxval=1 + strength) + mean
  if images.shape[-1] == 3:
    grey = x @ jnp.array([0.299, 0.587, 0.114], x.dtype)
    x = grey[..., None] + (x - grey[..., None]) * jax.random.uniform(
        k_s, shape, minval=1 - strength, maxval=1 + strength)
  return jnp.clip(x * 2.0 - 1.0, -1.0, 1.0).astype(images.dtype)


# The named operations of `aigc augment --ops`, with their strengths, applied in this order.
OPS = {
    "crop": lambda key, images: random_crop(key, images, 0.8),
    "rotate": lambda key, images: random_rotate(key, images, 15.0),
    "flip": random_flip,
    "color": lambda key, images: random_color(key, images, 0.2),
}


def apply_ops(key, images, ops: tuple[str, ...]):
  """Applies the named `OPS` (any subset, in `OPS` order), each with its own key from
  `key`. Pure and jit-able with `ops` static."""
  for i, name in enumerate(OPS):
    if name in ops:
      images = OPS[name](jax.random.fold_in(key, i), images)
  return images


def augment(key, images, *, flip: bool = False, max_shift: int = 0, max_degrees: float = 0.0):
  """Applies the enabled augmentations in a fixed order: rotate, translate, flip."""
  k_rot, k_shift, k_flip = jax.random.split(key, 3)
  images = random_rotate(k_rot, images, max_degrees)
  images = random_translate(k_shift, images, max_shift)
  if flip:
    images = random_flip(k_flip, images)
  return images
