r"""DCGAN on the embedded `digits` dataset: the default `aigc train` run.

The seed's recipe (DCGAN, non-saturating BCE loss, Adam 2e-4 / 0.5) at 16x16 grayscale.

  aigc train --config configs/dcgan_digits.py --workdir runs/dcgan_digits
  aigc eval --workdir runs/dcgan_digits

See the README for the wall time and the digits_is / digits_fid it reaches.
"""

import ml_collections

from aigc_jax.configs import common


def get_config(variant: str = ""):
  """`variant` "smoke" gives a tiny config for tests (`configs/dcgan_digits.py:smoke`)."""
  config = common.get_config()
  config.task = "gan"
  config.num_steps = 3000
  config.batch_size = 64
  config.log_every = 50
  config.sample_every = 500
  config.checkpoint_every = 500

  config.data = ml_collections.ConfigDict()
  config.data.name = "digits"
  config.data.data_dir = ml_collections.config_dict.placeholder(str)
  config.data.download = False
  config.data.resolution = 16
  config.data.channels = 1

  config.model = ml_collections.ConfigDict()
  config.model.name = "dcgan"
  config.model.latent_dim = 100
  config.model.g_features = 64
  config.model.d_features = 64

  config.loss = "non_saturating"
  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.g_lr = 2e-4
  config.optimizer.d_lr = 2e-4
  config.optimizer.b1 = 0.5
  config.optimizer.b2 = 0.999

  # Real-image augmentation before the discriminator (off in the seed's recipe).
  config.augment = ml_collections.ConfigDict()
  config.augment.flip = False
  config.augment.max_shift = 0
  config.augment.max_degrees = 0.0
  if variant == "smoke":
    _make_smoke(config)
  elif variant:
    raise ValueError(f"unknown variant {variant!r}; the only one is 'smoke'")
  return config


def _make_smoke(config):
  """Tiny settings for tests: a few steps of narrow models."""
  config.num_steps = 4
  config.batch_size = 8
  config.log_every = 2
  config.sample_every = 4
  config.checkpoint_every = 2
  config.num_grid_samples = 4
  config.model.g_features = 8
  config.model.d_features = 8
  config.model.latent_dim = 16
