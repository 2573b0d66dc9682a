import jax
import jax.numpy as jnp
import numpy as np
import pytest
from skimage.restoration import denoise_nl_means

from aigc_jax.restoration import masks, nlmeans

# Parity with skimage: float32 on both sides, differing only in the order of float32
# sums (observed: under 1e-6).
TOLERANCE = 2e-6


def _smooth(height, width, channels, seed=0, noise=0.1):
  """A smooth colour pattern plus Gaussian noise, float32 [H, W, C]."""
  y, x = np.mgrid[0:height, 0:width] / max(height, width)
  clean = np.stack([0.5 + 0.35 * np.sin(3 * x + c) * np.cos(2 * y - c)
                    for c in range(channels)], axis=-1)
  noisy = clean + noise * np.random.default_rng(seed).standard_normal(clean.shape)
  return clean.astype(np.float32), noisy.astype(np.float32)


def _image(kind, colour):
  channels = 3 if colour else 1
  if kind == "random":
    image = np.random.default_rng(1).random((14, 16, channels), np.float32)
  else:
    image = _smooth(14, 16, channels)[1]
  return image if colour else image[..., 0]


@pytest.mark.parametrize("colour", [False, True], ids=["grey", "rgb"])
@pytest.mark.parametrize("kind", ["random", "smooth"])
@pytest.mark.parametrize("patch_size, patch_distance, h, sigma",
                         [(5, 6, 0.1, 0.0), (4, 3, 0.08, 0.1)])
def test_denoise_matches_skimage(colour, kind, patch_size, patch_distance, h, sigma):
  image = _image(kind, colour)
  expected = denoise_nl_means(image, patch_size=patch_size, patch_distance=patch_distance,
                              h=h, sigma=sigma, fast_mode=False,
                              channel_axis=-1 if colour else None)
  out = nlmeans.denoise(image, patch_size=patch_size, patch_distance=patch_distance, h=h,
                        sigma=sigma)
  assert out.shape == image.shape and out.dtype == jnp.float32
  np.testing.assert_allclose(out, expected, rtol=0, atol=TOLERANCE)


def test_skimage_exponential_approximation():
  y = -np.concatenate([np.linspace(0, 30, 301), [0.5e-3, 1.234567, 80.0]]).astype(np.float32)
  # skimage's _fast_exp: int32 high word of a float64 whose low word is 0.
  high = (nlmeans._EXP_A * y.astype(np.float64)).astype(np.int32) + nlmeans._EXP_BC
  expected = (high.astype(np.int64) << 32).view(np.float64)
  out = np.asarray(nlmeans._skimage_exp(jnp.asarray(y)), np.float64)
  np.testing.assert_allclose(out, expected, rtol=3e-6)  # float32 product: +-1 in 2^20.
  assert abs(out[0] - 0.97101) < 1e-5  # Its "exp(0)".
  np.testing.assert_allclose(out, np.exp(y), rtol=0.07)


def test_denoise_reduces_error_on_a_noisy_smooth_image():
  clean, noisy = _smooth(24, 24, 3, seed=2, noise=0.1)
  out = np.asarray(nlmeans.denoise(noisy, h=0.06, sigma=0.1))
  before, after = np.mean((noisy - clean) ** 2), np.mean((out - clean) ** 2)
  assert after < 0.25 * before


def test_denoise_batch_and_traced_parameters():
  images = np.stack([_smooth(12, 12, 3, seed=s)[1] for s in range(3)])
  batch = nlmeans.denoise_batch(images, patch_size=3, patch_distance=2, h=0.1)
  assert batch.shape == images.shape
  for image, out in zip(images, batch):
    np.testing.assert_allclose(out, nlmeans.denoise(image, patch_size=3, patch_distance=2),
                               atol=1e-6)
  # h and sigma are traced, so a jitted caller may pass them as arrays.
  fn = jax.jit(lambda x, h: nlmeans.denoise(x, patch_size=3, patch_distance=2, h=h))
  np.testing.assert_allclose(fn(images[0], jnp.float32(0.1)), batch[0], atol=1e-6)


def _stripes(size=16):
  """Vertical stripes, two columns dark and two bright: any 2 columns fix the phase."""
  x = np.arange(size)[None, :] * np.ones((size, 1))
  return (0.2 + 0.6 * (x % 4 < 2)).astype(np.float32)


def _colour_stripes(size=16):
  y, x = np.mgrid[0:size, 0:size]
  return np.stack([0.2 + 0.3 * ((x + y) % 3), 0.5 + 0.2 * ((x // 2) % 2),
                   0.3 + 0.1 * (y % 2)], axis=-1).astype(np.float32)


def test_inpaint_keeps_known_pixels_and_fills_holes_in_range():
  image = np.random.default_rng(3).random((16, 16, 3), np.float32)
  m = np.asarray(masks.strokes(jax.random.key(1), 16, 16) | masks.center(16, 16))
  out = np.asarray(nlmeans.inpaint(np.where(m[..., None], np.nan, image), m))
  assert out.shape == image.shape and out.dtype == np.float32
  np.testing.assert_array_equal(out[~m], image[~m])  # Bit for bit.
  assert np.all(np.isfinite(out))
  known = image[~m]
  assert np.all(out[m] >= known.min(0) - 1e-6) and np.all(out[m] <= known.max(0) + 1e-6)


def test_inpaint_reconstructs_constant_and_periodic_images():
  m = masks.center(16, 16)
  constant = np.full((16, 16, 3), 0.3, np.float32)
  np.testing.assert_allclose(nlmeans.inpaint(constant, m), constant, atol=1e-5)
  stripes = _stripes()  # Grey [H, W] in, grey out.
  np.testing.assert_allclose(nlmeans.inpaint(stripes, m, h=0.05), stripes, atol=1e-4)


def test_inpaint_beats_mean_colour_fill():
  image = _colour_stripes()
  m = np.asarray(masks.center(16, 16))
  mean_fill = np.where(m[..., None], image[~m].mean(axis=0), image)
  out = np.asarray(nlmeans.inpaint(image, m))
  error = np.mean((out - image)[m] ** 2)
  assert error < 0.5 * np.mean((mean_fill - image)[m] ** 2)


def test_inpaint_fallbacks():
  image = _colour_stripes()
  everything = np.ones((16, 16), bool)
  np.testing.assert_array_equal(nlmeans.inpaint(image, everything), np.full_like(image, 0.5))
  # Stopped after one layer, the rest of the hole takes the known pixels' mean colour.
  m = np.asarray(masks.center(16, 16))
  out = np.asarray(nlmeans.inpaint(image, m, max_iterations=1))
  np.testing.assert_allclose(out[8, 8], image[~m].mean(axis=0), atol=1e-6)
  assert not np.allclose(out[4, 8], image[~m].mean(axis=0))  # The first layer.


def test_inpaint_batch_matches_single_images():
  images = np.stack([_colour_stripes(), np.roll(_colour_stripes(), 1, axis=1)])
  ms = masks.sample_masks(jax.random.key(4), "boxes", 2, 16, 16)
  batch = nlmeans.inpaint_batch(images, ms, patch_size=3, patch_distance=3)
  for image, m, out in zip(images, ms, batch):
    np.testing.assert_allclose(
        out, nlmeans.inpaint(image, m, patch_size=3, patch_distance=3), atol=1e-6)
