"""The classical restorers the learned ones are measured against, with explicit parameters.

Images are float [N, H, W, C] on the [0, 1] scale, masks bool [N, H, W] (True = missing).
- `nlmeans_restore`: non-local means, denoising with a known noise sigma or filling holes
  from the known pixels (`aigc_jax.restoration.nlmeans`).
- `mean_fill`: the trivial baseline: holes get the image's mean known colour
  (inpainting); each pixel the mean of its 3x3 neighbourhood, edges reflected (denoising).
"""

import jax.numpy as jnp
import numpy as np

from aigc_jax.restoration import nlmeans


def nlmeans_restore(mode: str, corrupted01, mask, *, patch_size: int, patch_distance: int, h: float,
                    sigma: float | None = None, chunk: int = 64) -> np.ndarray:
  """Non-local means over a batch, `chunk` images at a time: `mode` "denoise" (noise of
  std `sigma`) or "inpaint" (fills `mask`)."""
  outs = []
  for i in range(0, len(corrupted01), chunk):
    c = jnp.asarray(corrupted01[i:i + chunk])
    if mode == "denoise":
      # Unclipped, as the model sees it: clipping would bias the noise (dark pixels
      # would keep only upward noise) and break the known-sigma assumption.
      out = nlmeans.denoise_batch(c, patch_size=patch_size, patch_distance=patch_distance, h=h, sigma=sigma)
    else:
      out = nlmeans.inpaint_batch(c, jnp.asarray(mask[i:i + chunk]), patch_size=patch_size,
                                  patch_distance=patch_distance, h=h)
    outs.append(np.asarray(out))
  return np.concatenate(outs)


def mean_fill(mode: str, corrupted01, mask) -> np.ndarray:
  """The trivial baseline of `mode` ("inpaint" or "denoise") on [0, 1] images."""
  if mode == "denoise":
    padded = np.pad(corrupted01, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")
    h, w = corrupted01.shape[1:3]
    return sum(padded[:, i:i + h, j:j + w] for i in range(3) for j in range(3)) / 9
  known = ~mask[..., None]
  mean = (corrupted01 * known).sum(axis=(1, 2), keepdims=True) / np.maximum(known.sum(axis=(1, 2), keepdims=True), 1)
  return np.where(known, corrupted01, mean)
