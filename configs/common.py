"""Keys that every config of the project has, with their shared defaults.

Every `configs/*.py` starts from `common.get_config()` and sets what it needs. The keys
here are the contract of `aigc train`: `seed`, `num_steps`, `batch_size`,
`checkpoint_every`, `sample_every`, `log_every` (and `keep_checkpoints`), and
`compute_dtype`, the dtype the networks compute in ("float32", or "bfloat16" for mixed
precision with float32 parameters and optimizer state; `aigc_jax.train.precision`).
"""

import ml_collections


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
