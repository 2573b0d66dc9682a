r"""DCGAN on Fashion-MNIST (tensorflow-datasets `fashion_mnist`), 32x32 grayscale.

  aigc train --config configs/dcgan_fashion_mnist.py --workdir runs/dcgan_fashion_mnist \
      --config.data.download=True

Not benchmarked here (the machine that wrote it has no network); see docs/gan.md.
"""

from aigc_jax.configs import dcgan_mnist


def get_config(variant: str = ""):
  """`variant`: names of `dcgan_digits.VARIANTS` joined by "+" (e.g. "smoke")."""
  config = dcgan_mnist.get_config(variant)
  config.data.name = "fashion_mnist"
  return config
