"""A history of generated images for the discriminator (Shrivastava et al., 2017), in pure JAX.

CycleGAN shows its discriminators fakes drawn partly from the last generators' output
and partly from a buffer of earlier fakes, so that they do not chase the generators'
latest move. The buffer's rule is the one of the authors' release, image by image:

- while fewer than `size` images are stored, the new image is stored and returned;
- once full, with probability 1/2 the new image is returned and the buffer is left as
  is; otherwise a uniformly chosen stored image is returned and the new one takes its
  slot.

The buffer is part of the train state (`PoolState`: the images and how many slots are
filled), and `query` is a pure function with an explicit key, so it runs inside the
jitted train step and is checkpointed and resumed with the rest of the state. The
images of a batch are handled one after another (a `lax.scan`), as in the release.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp


class PoolState(NamedTuple):
  images: jax.Array  # float32 [size, H, W, C]; slots >= count hold zeros.
  count: jax.Array  # int32 []: the number of filled slots, at most size.


def init(size: int, image_shape) -> PoolState:
  """An empty pool of `size` images of shape `image_shape` (H, W, C)."""
  return PoolState(jnp.zeros((size, *image_shape), jnp.float32), jnp.zeros((), jnp.int32))


def query(pool: PoolState, images, key):
  """Pushes a batch of new images [B, H, W, C] through the pool.

  Returns (new pool, images [B, H, W, C] for the discriminator). A pool of size 0
  returns the batch unchanged. `images` should already be free of gradients.
  """
  size = pool.images.shape[0]
  if size == 0:
    return pool, images

  def one(pool, inputs):
    image, k = inputs
    k_swap, k_slot = jax.random.split(k)
    full = pool.count >= size
    swap = full & (jax.random.uniform(k_swap) < 0.5)
    slot = jnp.where(full, jax.random.randint(k_slot, (), 0, size), pool.count)
    stored = pool.images[slot]
    # Filling: the new image goes to the next free slot. Full and swapping: it replaces
    # the stored one. Full and not swapping: the slot is rewritten with what it held.
    written = jnp.where(full & ~swap, stored, image)
    returned = jnp.where(swap, stored, image)
    new_pool = PoolState(pool.images.at[slot].set(written), pool.count + (~full).astype(jnp.int32))
    return new_pool, returned

  keys = jax.random.split(key, images.shape[0])
  return jax.lax.scan(one, pool, (images.astype(jnp.float32), keys))
