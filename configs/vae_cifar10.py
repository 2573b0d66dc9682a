r"""Convolutional VAE on CIFAR-10 (tfds `cifar10`), 32x32 RGB, discretized logistic.

A plain factorized-decoder VAE: expect blurry samples and, in bits per dimension
(`test_iwae_bpd`), numbers well above those of autoregressive or hierarchical models
(IAF-VAE: 3.11; PixelCNN++: 2.92).

  aigc train --config configs/vae_cifar10.py --workdir runs/vae_cifar10 --config.data.download=True
  aigc eval --workdir runs/vae_cifar10

Not run in this repository's measurements (no network here).
"""

from aigc_jax.configs import common, vae_digits


def get_config(variant: str = ""):
  """`variant` "smoke" shrinks the model and steps (data stay CIFAR-10's) for tests."""
  config = vae_digits.get_config()
  config.num_steps = 50_000
  config.batch_size = 128
  config.sample_every = 5000
  config.checkpoint_every = 5000
  config.data.name = "cifar10"
  config.data.resolution = 32
  config.data.channels = 3
  config.model.latent_dim = 128
  config.model.features = (64, 128, 256)  # 32 -> 16 -> 8 -> 4.
  config.model.hidden = 1024
  config.optimizer.lr = 5e-4
  config.optimizer.grad_clip = 100.0
  config.eval.iwae_chunk = 16
  return common.apply_variants(config, variant, vae_digits.CATALOG_VARIANTS)
