r"""Conditional VAE on `digits`: the one-hot digit class joins the encoder's input and the
decoder's latent, so samples can be asked for by class.

  aigc train --config configs/cvae_digits.py --workdir runs/cvae_digits
  aigc sample --workdir runs/cvae_digits --labels 3 --num 16 --out threes.png
  aigc eval --workdir runs/cvae_digits

`aigc eval` also reports `conditional_accuracy`: how often the digits classifier reads
the requested class in prior samples (classes cycled 0..9).
"""

from aigc_jax.configs import vae_digits


def get_config(variant: str = ""):
  """`variant` "smoke" gives a tiny config for tests (`configs/cvae_digits.py:smoke`)."""
  config = vae_digits.get_config(variant)
  config.model.num_classes = 10
  config.num_grid_samples = 100  # 10 columns: sample column j is digit j.
  if variant == "smoke":
    config.num_grid_samples = 16
  return config
