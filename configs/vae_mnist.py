r"""Convolutional VAE on MNIST (tfds `mnist`), 28x28 grayscale, discretized logistic.

The nats are the negative log-likelihood of the stored 8-bit images (256 values per
pixel), not of a binarized MNIST; compare them with 8-bit results, in bits per dimension
(`test_iwae_bpd`), not with the ~80-100 nats of binarized-MNIST papers.

Prepare the data once (needs network), then train and evaluate:

  aigc train --config configs/vae_mnist.py --workdir runs/vae_mnist --config.data.download=True
  aigc eval --workdir runs/vae_mnist

Not run in this repository's measurements (no network here); docs/vae.md has the
digits figures.
"""

from aigc_jax.configs import common, vae_digits


def get_config(variant: str = ""):
  """`variant` "smoke" shrinks the model and steps (data stay MNIST's) for tests."""
  config = vae_digits.get_config()
  config.num_steps = 20_000
  config.batch_size = 128
  config.sample_every = 2000
  config.checkpoint_every = 2000
  config.data.name = "mnist"
  config.data.resolution = 28
  config.data.channels = 1
  config.model.latent_dim = 32
  config.model.features = (32, 64)  # 28x28 -> 14x14 -> 7x7.
  config.model.hidden = 512
  return common.apply_variants(config, variant, vae_digits.CATALOG_VARIANTS)
