r"""Denoising on the embedded `digits` dataset: the inpainting network, trained on noise.

`configs/inpaint_digits.py` with mode "denoise": additive Gaussian noise of std 0.2 on
the [0, 1] scale, L1 on every pixel plus the PatchGAN term; `aigc eval` compares the
model, non-local means (told the noise sigma) and a 3x3 mean filter on noisy test digits.

  aigc train --config configs/denoise_digits.py --workdir runs/denoise_digits
  aigc eval --workdir runs/denoise_digits
  aigc denoise --workdir runs/denoise_digits --input noisy.png --sigma 0.2 --out clean.png
  aigc train --config configs/denoise_digits.py:crf --workdir runs/denoise_digits_crf

Variants: `:crf` ends the network in a learnable Gaussian CRF guided by the noisy input;
`:smoke` (tiny, for tests). docs/restoration.md has the figures.
"""

from aigc_jax.configs import inpaint_digits


def get_config(variant: str = ""):
  """`variant`: names of `inpaint_digits.VARIANTS` joined by "+" (e.g. "smoke", "crf")."""
  config = inpaint_digits.get_config("denoise")
  return inpaint_digits.apply_variants(config, variant)
