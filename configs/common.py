"""Keys that every config of the project has, with their shared defaults.

Every `configs/*.py` starts from `common.get_config()` and sets what it needs. The keys
here are the contract of `aigc train`: `seed`, `num_steps`, `batch_size`,
`checkpoint_every`, `sample_every`, `log_every` (and `keep_checkpoints`), and
`compute_dtype`, the dtype the networks compute in ("float32", or "bfloat16" for mixed
precision with float32 parameters and optimizer state; `aigc_jax.train.precision`).
"""

import ml_collections

from aigc_jax.errors import UserError


def get_config():
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.num_steps = 1000
  config.batch_size = 64
  config.log_every = 50
  config.sample_every = 500
  config.checkpoint_every = 500
  config.keep_checkpoints = 3
  config.num_grid_samples = 64
  config.compute_dtype = "float32"
  return config


def apply_variants(config, variant: str, variants: dict):
  """Applies the "+"-separated names of `variants` in `variant` to `config`, in order.

  A config file's `VARIANTS` maps a name to a function that edits the config in place
  (`configs/dcgan_digits.py:seed+smoke`); an unknown name is a UserError listing them.
  """
  for name in filter(None, variant.split("+")):
    if name not in variants:
      raise UserError(f"unknown variant {name!r}; choose from {', '.join(variants)}")
    variants[name](config)
  return config


def digits_data(resolution: int = 16):
  """`config.data` for the embedded `digits` dataset, grayscale at `resolution`."""
  data = ml_collections.ConfigDict()
  data.name = "digits"
  data.data_dir = ml_collections.config_dict.placeholder(str)
  data.download = False
  data.resolution = resolution
  data.channels = 1
  return data


def grey(config):
  """A variant: grayscale images (`data.channels` 1)."""
  config.data.channels = 1


def resize_policy(name: str):
  """A variant that sets `data.resize` to `name` (resize, center_crop, random_crop)."""
  def set_policy(config):
    config.data.resize = name
  return set_policy
