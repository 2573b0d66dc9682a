import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.ndimage

from aigc_jax.errors import UserError
from aigc_jax.restoration import masks

H, W = 16, 20
BATCH = 48


@pytest.fixture(scope="module")
def batches():
  """48 masks of each kind, drawn once (jit-compiled once per kind)."""
  return {kind: np.asarray(masks.sample_masks(jax.random.key(0), kind, BATCH, H, W))
          for kind in masks.MASKS}


@pytest.mark.parametrize("kind", sorted(masks.MASKS))
def test_shapes_and_dtypes(kind, batches):
  one = masks.MASKS[kind](jax.random.key(1), H, W)
  assert one.shape == (H, W) and one.dtype == jnp.bool_
  assert batches[kind].shape == (BATCH, H, W) and batches[kind].dtype == np.bool_


def test_center_box_coordinates():
  expected = np.zeros((8, 10), bool)
  expected[2:6, 2:7] = True  # Sides round(4) x round(5), margins (8-4)//2, (10-5)//2.
  np.testing.assert_array_equal(masks.center(8, 10), expected)
  expected = np.zeros((12, 12), bool)
  expected[4:7, 4:7] = True  # round(0.25 * 12) = 3, margin (12 - 3) // 2 = 4.
  np.testing.assert_array_equal(masks.center(12, 12, fraction=0.25), expected)
  # The registry's "center" ignores its key.
  np.testing.assert_array_equal(masks.MASKS["center"](jax.random.key(5), 8, 10),
                                masks.center(8, 10))


@pytest.mark.parametrize("kind, low, high", [("boxes", 0.03, 0.45),
                                             ("strokes", 0.05, 0.45)])
def test_random_masks_vary_and_cover_a_sensible_fraction(kind, low, high, batches):
  ms = batches[kind]
  per_mask = ms.mean(axis=(1, 2))
  assert per_mask.min() > 0 and per_mask.max() < 1  # Never empty, never everything.
  assert low < per_mask.mean() < high
  assert len({m.tobytes() for m in ms}) == BATCH  # Every key draws another mask.
  again = masks.sample_masks(jax.random.key(0), kind, BATCH, H, W)
  np.testing.assert_array_equal(again, ms)  # The same key draws the same masks.
  one = masks.MASKS[kind](jax.random.key(7), H, W)
  np.testing.assert_array_equal(one, masks.MASKS[kind](jax.random.key(7), H, W))


def test_boxes_are_rectangles_of_the_drawn_sizes(batches):
  for m in batches["boxes"]:
    assert scipy.ndimage.label(m)[1] <= 3
  for seed in range(8):
    m = np.asarray(masks.boxes(jax.random.key(seed), H, W, max_boxes=1))
    rows, cols = np.nonzero(m)
    box_h, box_w = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
    assert m.sum() == box_h * box_w  # One filled rectangle.
    assert round(0.15 * H) <= box_h <= round(0.45 * H)
    assert round(0.15 * W) <= box_w <= round(0.45 * W)


def test_strokes_are_connected_pieces(batches):
  counts = [scipy.ndimage.label(m)[1] for m in batches["strokes"]]
  assert max(counts) <= 4 and min(counts) >= 1
  assert len(set(counts)) > 1  # The number of strokes is random.
  for seed in range(6):  # One stroke is one piece (4-connected).
    m = masks.strokes(jax.random.key(seed), H, W, max_strokes=1)
    assert scipy.ndimage.label(np.asarray(m))[1] == 1


def test_from_image_thresholds_white_as_missing():
  grey = np.array([[0, 127, 128], [255, 200, 10]], np.uint8)
  np.testing.assert_array_equal(masks.from_image(grey), [[0, 0, 1], [1, 1, 0]])
  rgb = np.array([[[255, 255, 0], [255, 0, 0]], [[128, 128, 128], [0, 0, 0]]], np.uint8)
  np.testing.assert_array_equal(masks.from_image(rgb), [[1, 0], [1, 0]])  # Means 170, 85.
  rgba = np.concatenate([rgb, np.full((2, 2, 1), 255, np.uint8)], axis=-1)
  np.testing.assert_array_equal(masks.from_image(rgba), masks.from_image(rgb))
  as_bool = np.array([[True, False]])
  np.testing.assert_array_equal(masks.from_image(as_bool), as_bool)
  assert masks.from_image(grey).dtype == np.bool_
  np.testing.assert_array_equal(masks.from_image(grey / 255.0), masks.from_image(grey))


def test_unknown_kind_teaches():
  with pytest.raises(UserError, match=r"unknown mask type 'circles'; choose one of center"):
    masks.sample_masks(jax.random.key(0), "circles", 2, H, W)


def test_apply_mask():
  images = jnp.full((2, 4, 5, 3), 0.7)
  m = jnp.zeros((2, 4, 5), bool).at[1, 2, 3].set(True)
  out = jax.jit(masks.apply_mask, static_argnames="fill")(images, m, fill=0.25)
  assert out.shape == images.shape and out.dtype == images.dtype
  np.testing.assert_array_equal(out[1, 2, 3], [0.25] * 3)
  np.testing.assert_array_equal(np.delete(np.asarray(out).reshape(-1, 3), 1 * 20 + 13, 0),
                                0.7 * np.ones((39, 3), np.float32))


def test_gaussian_noise_statistics():
  images = jnp.zeros((64, 64, 3))
  noisy = jax.jit(masks.add_gaussian_noise)(jax.random.key(3), images, 0.1)
  assert noisy.shape == images.shape and noisy.dtype == images.dtype
  assert abs(float(noisy.std()) - 0.1) < 0.004 and abs(float(noisy.mean())) < 0.004
  np.testing.assert_allclose(noisy, masks.add_gaussian_noise(jax.random.key(3), images, 0.1),
                             atol=1e-7)
  # Not clipped: values leave [0, 1].
  assert float(noisy.min()) < 0


def test_generators_compose_under_jit():
  @jax.jit
  def corrupt(key, images):
    k_mask, k_noise = jax.random.split(key)
    m = masks.strokes(k_mask, H, W) | masks.boxes(k_mask, H, W) | masks.center(H, W)
    return masks.apply_mask(masks.add_gaussian_noise(k_noise, images, 0.05), m), m

  images, m = corrupt(jax.random.key(0), jnp.full((H, W, 3), 0.5))
  assert images.shape == (H, W, 3) and m.shape == (H, W)
  np.testing.assert_array_equal(np.asarray(images)[np.asarray(m)], 0.0)
