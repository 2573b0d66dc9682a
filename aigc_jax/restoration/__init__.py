"""Image restoration without learning: hole masks, corruptions, classical restorers, scores.

`masks` draws the holes and noise that corrupt an image (centre box, random boxes,
free-form strokes, a user's mask image; additive Gaussian noise); `nlmeans` restores
with non-local means (denoising, and hole filling from the known pixels); `baselines`
runs the classical restorers over batches with explicit parameters; `metrics` gives
PSNR and SSIM, over whole images or the holes.
"""

from aigc_jax._exports import exports

__all__, __getattr__, __dir__ = exports(__name__, {
    m: f"aigc_jax.restoration.{m}" for m in ("masks", "nlmeans", "baselines", "metrics")})
