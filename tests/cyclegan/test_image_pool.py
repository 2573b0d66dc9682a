"""The image pool: the release's fill, keep-or-swap rule, inside jit."""

import jax
import jax.numpy as jnp
import numpy as np

from aigc_jax.train import image_pool


def _images(values):
  """Scalar 'images' [N, 1, 1, 1] whose value identifies them."""
  return jnp.asarray(values, jnp.float32).reshape(-1, 1, 1, 1)


def _values(images):
  return np.asarray(images).reshape(-1).tolist()


def test_size_zero_returns_the_batch_unchanged():
  pool = image_pool.init(0, (1, 1, 1))
  new_pool, out = image_pool.query(pool, _images([1, 2]), jax.random.key(0))
  assert _values(out) == [1, 2] and new_pool is pool


def test_while_filling_new_images_are_stored_and_returned():
  query = jax.jit(image_pool.query)
  pool = image_pool.init(3, (1, 1, 1))
  pool, out = query(pool, _images([1, 2]), jax.random.key(0))
  assert _values(out) == [1, 2] and int(pool.count) == 2
  assert _values(pool.images) == [1, 2, 0]
  # 3 takes the last free slot and comes back; 4 meets a full pool: kept or swapped.
  pool, out = query(pool, _images([3, 4]), jax.random.key(1))
  assert int(pool.count) == 3 and _values(out)[0] == 3
  held = _values(pool.images)
  if _values(out)[1] == 4:
    assert held == [1, 2, 3]
  else:
    assert _values(out)[1] in (1, 2, 3) and sorted(held) == sorted({1, 2, 3, 4} - {_values(out)[1]})


def test_full_pool_returns_new_half_the_time_else_swaps_a_uniform_stored_image():
  size, draws = 5, 4000
  pool = image_pool.init(size, (1, 1, 1))
  pool, _ = image_pool.query(pool, _images(range(size)), jax.random.key(0))

  def one(pool, inputs):
    value, key = inputs
    pool, out = image_pool.query(pool, value.reshape(1, 1, 1, 1), key)
    return pool, (out.reshape(()), pool.images.reshape(size))
  new_values = jnp.arange(100, 100 + draws, dtype=jnp.float32)
  _, (returned, pools) = jax.jit(lambda p, v, k: jax.lax.scan(one, p, (v, k)))(
      pool, new_values, jax.random.split(jax.random.key(1), draws))
  returned, pools = np.asarray(returned), np.asarray(pools)

  held = np.arange(size, dtype=np.float32)
  swapped_slots = []
  for new, out, after in zip(np.asarray(new_values), returned, pools):
    if out == new:  # Kept: the pool does not change.
      np.testing.assert_array_equal(after, held)
    else:  # Swapped: the returned image was stored, and the new one took its slot.
      slot = int(np.flatnonzero(held == out)[0])
      expected = held.copy()
      expected[slot] = new
      np.testing.assert_array_equal(after, expected)
      swapped_slots.append(slot)
    held = after
  fraction_new = np.mean(returned == np.asarray(new_values))
  assert abs(fraction_new - 0.5) < 4 * np.sqrt(0.25 / draws), fraction_new  # 4 sigma.
  per_slot = np.bincount(swapped_slots, minlength=size)
  expected = len(swapped_slots) / size
  assert np.all(np.abs(per_slot - expected) < 4 * np.sqrt(expected)), per_slot
