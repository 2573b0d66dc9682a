r"""Inpainting faces: tfds `celeb_a` at 64x64 RGB (centre crop 140, as the DCGAN configs).

The first run needs network access and `--config.data.download=True` (`aigc_jax` never
downloads by default; it prepares the dataset in the array_record format it reads):

  aigc train --config configs/inpaint_celeb_a.py --workdir runs/inpaint_celeb_a --config.data.download=True
  aigc eval --workdir runs/inpaint_celeb_a

Not trained here: there is no network on the machines this library is developed on;
the config is tested with tfds mock data.
"""

from aigc_jax.configs import inpaint_digits


def get_config(variant: str = ""):
  """`variant`: names of `inpaint_digits.VARIANTS` joined by "+" (e.g. "smoke")."""
  config = inpaint_digits.get_config()
  config.num_steps = 50000
  config.batch_size = 32
  config.sample_every = 2000
  config.checkpoint_every = 2000
  d = config.data
  d.name = "celeb_a"
  d.resolution = 64
  d.channels = 3
  d.center_crop = 140
  config.model.features = 48
  config.model.depth = 3
  config.model.dilations = (1, 2, 4, 8)
  config.model.d_features = 64
  config.model.d_layers = 3
  config.optimizer.g_lr = 2e-4
  return inpaint_digits.apply_variants(config, variant)
