"""DiffAugment (Zhao et al., 2020): differentiable augmentations for GAN discriminators.

A discriminator trained on little data memorises it. DiffAugment shows it real *and*
generated images through the same random transformations, in the discriminator's and
the generator's updates alike; because each transformation is differentiable, the
generator's gradient flows back through it to the fakes, and because both sides are
transformed, the generator is not taught to produce transformed images.

Every function takes an explicit key and a batch of NHWC float images (nominally in
[-1, 1]) and returns the same shape and dtype; the parameters are drawn per image, and
the same key gives the same result. The output can leave [-1, 1] (the colour jitter
shifts brightness); that is fine, the result only ever goes into the discriminator.
Regions with no source pixel (translation, cutout) are filled with 0, mid-grey.

Policies are comma-separated names from `TRANSFORMS`, applied in the given order, e.g.
"color,translation,cutout" (the paper's choice for small data).
"""

import jax
import jax.numpy as jnp

from aigc_jax.errors import UserError

FILL = 0.0


def _per_image(key, images, minval, maxval):
  return jax.random.uniform(key, (images.shape[0], 1, 1, 1), images.dtype, minval, maxval)


def color(key, images):
  """Random brightness (+U[-0.5, 0.5]), saturation (x U[0, 2]) and contrast (x U[0.5, 1.5]).

  Saturation scales each pixel's deviation from its mean over channels (a no-op on one
  channel); contrast scales the deviation from the image's mean.
  """
  k_b, k_s, k_c = jax.random.split(key, 3)
  x = images + _per_image(k_b, images, -0.5, 0.5)
  pixel_mean = jnp.mean(x, axis=-1, keepdims=True)
  x = (x - pixel_mean) * _per_image(k_s, images, 0.0, 2.0) + pixel_mean
  image_mean = jnp.mean(x, axis=(1, 2, 3), keepdims=True)
  return (x - image_mean) * _per_image(k_c, images, 0.5, 1.5) + image_mean


def _shift(image, dy, dx):
  """One HWC image moved by (dy, dx) whole pixels; uncovered pixels get FILL."""
  h, w = image.shape[:2]
  rows, cols = jnp.arange(h) - dy, jnp.arange(w) - dx
  inside = ((rows >= 0) & (rows < h))[:, None] & ((cols >= 0) & (cols < w))[None, :]
  moved = image[jnp.clip(rows, 0, h - 1)][:, jnp.clip(cols, 0, w - 1)]
  return jnp.where(inside[..., None], moved, FILL)


def translation(key, images, ratio: float = 0.125):
  """Moves each image by up to `ratio` of its size in y and x (whole pixels, uniform)."""
  b, h, w, _ = images.shape
  max_dy, max_dx = int(round(h * ratio)), int(round(w * ratio))
  k_y, k_x = jax.random.split(key)
  dy = jax.random.randint(k_y, (b,), -max_dy, max_dy + 1)
  dx = jax.random.randint(k_x, (b,), -max_dx, max_dx + 1)
  return jax.vmap(_shift)(images, dy, dx)


def cutout(key, images, ratio: float = 0.5):
  """Blanks one square of `ratio` times the image size per image, centred anywhere on it."""
  b, h, w, _ = images.shape
  size_y, size_x = int(round(h * ratio)), int(round(w * ratio))
  k_y, k_x = jax.random.split(key)
  top = jax.random.randint(k_y, (b, 1, 1), 0, h) - size_y // 2
  left = jax.random.randint(k_x, (b, 1, 1), 0, w) - size_x // 2
  rows, cols = jnp.arange(h)[None, :, None], jnp.arange(w)[None, None, :]
  hole = (rows >= top) & (rows < top + size_y) & (cols >= left) & (cols < left + size_x)
  return jnp.where(hole[..., None], jnp.asarray(FILL, images.dtype), images)


# Registry of transformations, named in a policy string.
TRANSFORMS = {"color": color, "translation": translation, "cutout": cutout}


def parse_policy(policy: str) -> tuple[str, ...]:
  """"color,translation" -> ("color", "translation"); "" -> () (no augmentation)."""
  names = tuple(p.strip() for p in (policy or "").split(",") if p.strip())
  unknown = [n for n in names if n not in TRANSFORMS]
  if unknown:
    raise UserError(f"unknown DiffAugment transform(s) {', '.join(unknown)}; "
                    f"choose from {', '.join(TRANSFORMS)}")
  return names


def diff_augment(key, images, policy):
  """Applies the transformations of `policy` (a string or a tuple of names) in order."""
  names = parse_policy(policy) if isinstance(policy, str) else tuple(policy)
  for i, name in enumerate(names):
    images = TRANSFORMS[name](jax.random.fold_in(key, i), images)
  return images
