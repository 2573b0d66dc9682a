"""DiffAugment: shapes, determinism, per-image randomness, what each transform does, and
that gradients flow through it to the (fake) images."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aigc_jax.data import diffaugment
from aigc_jax.errors import UserError

POLICIES = ["color", "translation", "cutout", "color,translation,cutout"]


@pytest.fixture(scope="module")
def images():
  return jax.random.uniform(jax.random.key(0), (6, 16, 16, 3), minval=-1.0, maxval=1.0)


@pytest.mark.parametrize("policy", POLICIES)
def test_shape_determinism_and_per_image_draws(policy, images):
  fn = jax.jit(lambda k, x: diffaugment.diff_augment(k, x, policy))
  a, b, c = fn(jax.random.key(1), images), fn(jax.random.key(1), images), fn(jax.random.key(2), images)
  assert a.shape == images.shape and a.dtype == images.dtype
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, c)
  # Two copies of one image in a batch are transformed differently (per-image draws).
  same = jnp.stack([images[0]] * 4)
  out = fn(jax.random.key(3), same)
  assert len({np.asarray(o).tobytes() for o in out}) > 1


@pytest.mark.parametrize("policy", POLICIES)
def test_gradients_flow_to_the_images(policy, images):
  weights = jax.random.normal(jax.random.key(5), images.shape)
  grads = jax.grad(lambda x: jnp.sum(diffaugment.diff_augment(jax.random.key(1), x, policy) * weights))(images)
  assert np.all(np.isfinite(grads)) and float(jnp.abs(grads).sum()) > 0


def test_translation_moves_pixels_by_whole_steps_and_fills():
  image = jnp.zeros((1, 16, 16, 1)).at[0, 8, 8, 0].set(1.0)
  for seed in range(5):
    out = np.asarray(diffaugment.translation(jax.random.key(seed), image + 0.0))[0, ..., 0]
    y, x = np.argwhere(out == 1.0)[0]
    assert abs(y - 8) <= 2 and abs(x - 8) <= 2  # ratio 1/8 of 16 pixels.
    assert np.count_nonzero(out) == 1


def test_cutout_blanks_one_square_of_half_the_size():
  ones = jnp.ones((8, 16, 16, 1))
  out = np.asarray(diffaugment.cutout(jax.random.key(0), ones))
  for o in out:
    hole = np.argwhere(o[..., 0] == diffaugment.FILL)
    assert 0 < len(hole) <= 64  # An 8x8 square, cut where it crosses the border.
    (y0, x0), (y1, x1) = hole.min(0), hole.max(0)
    assert (y1 - y0 + 1) * (x1 - x0 + 1) == len(hole)


def test_color_keeps_a_constant_grey_image_constant_per_image():
  grey = jnp.full((4, 8, 8, 3), 0.25)
  out = np.asarray(diffaugment.color(jax.random.key(0), grey))
  assert np.allclose(out, out[:, :1, :1, :1], atol=1e-6)  # Only brightness moves it.
  assert np.all(np.abs(out - 0.25) <= 0.5 + 1e-6)


def test_unknown_transform_is_a_user_error():
  with pytest.raises(UserError, match="unknown DiffAugment transform.*choose from color, translation, cutout"):
    diffaugment.parse_policy("color,zoom")
