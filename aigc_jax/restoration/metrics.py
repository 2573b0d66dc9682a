"""PSNR and SSIM per image, over the whole image and over the restored (masked) region.

Images are float [B, H, W, C] on the [0, 1] scale (uint8 / 255) and the peak value is
1. Each function returns one value per image; `aigc eval` averages them over the test
split (the usual convention of restoration papers: the mean of per-image PSNRs, not the
PSNR of the pooled error).

- `psnr(a, b)`: 10 log10(1 / MSE) over all pixels and channels (dm-pix's definition).
- `psnr(a, b, region)`: the same with the MSE taken over the pixels where `region`
  [B, H, W] is true only (for inpainting: the hole; the known pixels are copied from
  the input and would only inflate the figure).
- `ssim(a, b)`: the mean SSIM map (Wang et al., 2004; dm-pix's Gaussian-window form,
  K1 = 0.01, K2 = 0.03) with a `filter_size` window, 7 by default (scikit-image's default;
  the paper's 11 leaves too few valid windows on 16x16 digits).
- `ssim(a, b, region)`: the mean of the SSIM map over the windows whose centre lies in
  `region`; NaN for an image with no such window (callers take the `nanmean`).
"""

import dm_pix as pix
import jax.numpy as jnp


def psnr(a, b, region=None):
  """float [B, H, W, C] x2 (and optional bool [B, H, W]) -> float32 [B] in dB."""
  a, b = jnp.asarray(a, jnp.float32), jnp.asarray(b, jnp.float32)
  if region is None:
    return pix.psnr(a, b)
  weight = jnp.asarray(region, jnp.float32)[..., None] * jnp.ones_like(a)
  mse = jnp.sum(weight * (a - b) ** 2, axis=(1, 2, 3)) / jnp.maximum(jnp.sum(weight, axis=(1, 2, 3)), 1)
  return jnp.where(jnp.sum(weight, axis=(1, 2, 3)) > 0, -10.0 * jnp.log10(mse), jnp.nan)


def ssim(a, b, region=None, filter_size: int = 7):
  """float [B, H, W, C] x2 (and optional bool [B, H, W]) -> float32 [B]."""
  if filter_size % 2 == 0:
    raise ValueError(f"the SSIM window needs an odd size (it has a centre pixel), got {filter_size}")
  a, b = jnp.asarray(a, jnp.float32), jnp.asarray(b, jnp.float32)
  size = min(filter_size, a.shape[1] - 1 + a.shape[1] % 2, a.shape[2] - 1 + a.shape[2] % 2)
  ssim_map = pix.ssim(a, b, max_val=1.0, filter_size=size, return_map=True).mean(axis=-1)
  if region is None:
    return ssim_map.mean(axis=(1, 2))
  # The map is the 'valid' part: entry (i, j) is the window centred on (i + r, j + r).
  r = size // 2
  h, w = ssim_map.shape[1:3]
  inside = jnp.asarray(region, jnp.float32)[:, r:r + h, r:r + w]
  count = inside.sum(axis=(1, 2))
  return jnp.where(count > 0, (ssim_map * inside).sum(axis=(1, 2)) / jnp.maximum(count, 1), jnp.nan)
