"""PSNR and SSIM per image, whole and over a region, against numpy and scikit-image."""

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from aigc_jax.restoration import metrics


def _pair(shape=(3, 32, 32, 3), seed=0):
  rng = np.random.default_rng(seed)
  clean = rng.uniform(0, 1, shape).astype(np.float32)
  noisy = np.clip(clean + rng.normal(0, 0.1, shape), 0, 1).astype(np.float32)
  return clean, noisy


def test_psnr_whole_and_over_a_region_match_numpy():
  clean, noisy = _pair()
  region = np.zeros(clean.shape[:3], bool)
  region[:, 8:20, 4:30] = True
  region[2] = False  # An image with an empty region gives NaN, not a number.
  mse = ((clean - noisy) ** 2).mean(axis=(1, 2, 3))
  np.testing.assert_allclose(metrics.psnr(noisy, clean), -10 * np.log10(mse), rtol=1e-5)
  with np.errstate(invalid="ignore"):  # 0 / 0 for the empty region.
    hole = ((clean - noisy) ** 2 * region[..., None]).sum(axis=(1, 2, 3)) / (region.sum(axis=(1, 2)) * 3)
  got = np.asarray(metrics.psnr(noisy, clean, region))
  np.testing.assert_allclose(got[:2], -10 * np.log10(hole[:2]), rtol=1e-5)
  assert np.isnan(got[2])


@pytest.mark.parametrize("channels", [1, 3])
def test_ssim_matches_scikit_image(channels):
  # scikit-image's Gaussian-window SSIM (sigma 1.5 -> 11x11 window, population
  # covariances) is Wang et al.'s definition; dm-pix's is the same on the valid windows.
  clean, noisy = _pair((2, 40, 40, channels), seed=channels)
  ours = np.asarray(metrics.ssim(noisy, clean, filter_size=11))
  for i in range(2):
    ref = structural_similarity(noisy[i], clean[i], data_range=1.0, gaussian_weights=True, sigma=1.5,
                                use_sample_covariance=False, channel_axis=-1)
    np.testing.assert_allclose(ours[i], ref, atol=2e-4)


def test_ssim_over_a_region_averages_the_map_at_the_region_pixels():
  # scikit-image's full SSIM map (its Gaussian window is 11 taps whatever win_size says;
  # reflect-padded) agrees with ours away from the border; averaging it over a region's
  # pixels at least r = 5 from the border must give our region SSIM. A window centre
  # off by one pixel would not.
  clean, noisy = _pair((1, 28, 28, 1), seed=4)
  noisy[0, :14] = clean[0, :14]
  _, full = structural_similarity(noisy[0, ..., 0], clean[0, ..., 0], data_range=1.0, gaussian_weights=True,
                                  sigma=1.5, use_sample_covariance=False, full=True)
  rng = np.random.default_rng(1)
  for _ in range(3):
    region = np.zeros((28, 28), bool)
    top, left = rng.integers(5, 17, 2)
    region[top:top + 6, left:left + 4] = True
    ref = full[region].mean()
    ours = float(metrics.ssim(noisy, clean, region[None], filter_size=11)[0])
    assert ours == pytest.approx(ref, abs=2e-4), (top, left)
  with pytest.raises(ValueError, match="odd size"):
    metrics.ssim(noisy, clean, filter_size=8)
