r"""DCGAN on MNIST (tensorflow-datasets `mnist`), 28x28 resized to 32x32 grayscale.

The default DCGAN recipe (configs/dcgan_digits.py) on a catalog dataset. Prepare the
data once (needs network), then train:

  aigc train --config configs/dcgan_mnist.py --workdir runs/dcgan_mnist --config.data.download=True
  aigc sample --workdir runs/dcgan_mnist --num 64 --out mnist.png

Not benchmarked here (the machine that wrote it has no network); see docs/gan.md.
"""

from aigc_jax.configs import dcgan_digits


def get_config(variant: str = ""):
  """`variant`: names of `dcgan_digits.VARIANTS` joined by "+" (e.g. "smoke")."""
  config = dcgan_digits.get_config()
  config.data.name = "mnist"
  config.data.resolution = 32  # DCGAN sizes are 4 * 2**k; 28 is resized to 32.
  config.data.channels = 1
  config.num_steps = 10_000
  config.sample_every = config.checkpoint_every = 1000
  return dcgan_digits.apply_variants(config, variant)
