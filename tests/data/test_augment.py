import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aigc_jax.data import augment


@pytest.fixture
def images():
  return jax.random.uniform(jax.random.key(0), (6, 16, 16, 1), minval=-1.0, maxval=1.0)


CASES = {
    "flip": lambda k, x: augment.random_flip(k, x),
    "translate": lambda k, x: augment.random_translate(k, x, 3),
    "rotate": lambda k, x: augment.random_rotate(k, x, 15.0),
    "all": lambda k, x: augment.augment(k, x, flip=True, max_shift=2, max_degrees=10.0),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_shape_range_determinism_under_jit(name, images):
  fn = jax.jit(CASES[name])
  a = fn(jax.random.key(1), images)
  b = fn(jax.random.key(1), images)
  c = fn(jax.random.key(2), images)
  assert a.shape == images.shape and a.dtype == images.dtype
  assert float(a.min()) >= -1.0 and float(a.max()) <= 1.0
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, c)  # Another key, another draw.
  assert not np.array_equal(a, images)


def test_flip_is_a_mirror_image_or_identity(images):
  out = augment.random_flip(jax.random.key(3), images)
  for o, x in zip(np.asarray(out), np.asarray(images)):
    assert np.array_equal(o, x) or np.array_equal(o, x[:, ::-1])


def test_translate_moves_content_by_whole_pixels():
  x = jnp.full((1, 16, 16, 1), -1.0).at[0, 8, 8, 0].set(1.0)
  out = np.asarray(augment.random_translate(jax.random.key(5), x, 2))
  (ys, xs, _), = [np.nonzero(o == 1.0) for o in out]
  assert abs(int(ys[0]) - 8) <= 2 and abs(int(xs[0]) - 8) <= 2
  assert (out == 1.0).sum() == 1


def test_zero_strength_is_identity(images):
  out = augment.augment(jax.random.key(1), images, flip=False, max_shift=0, max_degrees=0.0)
  np.testing.assert_array_equal(out, images)
