r"""EDM diffusion, unconditional or class-conditional, on your own folder of images at 32
or 64 pixels.

The folder is `data.path`, in any layout of configs/dcgan_folder.py (class sub-folders
give the labels of the `cond` variant; docs/data.md). The U-Net has 64 channels at full
resolution and one stride-2 level per entry of `model.channel_mult` (3 levels at 32
pixels, 4 at 64), with self-attention at 16x16 and 8x8; the recipe is
configs/diffusion_digits.py's (EDM's preconditioning and noise levels, EMA, 10% label
dropout for guidance) with a lower learning rate for the wider net, sampled by the
deterministic ODE sampler (digits' churn is not measured at these sizes).

  aigc prepare --data ~/photos
  aigc train --config configs/diffusion_folder.py --config.data.path=~/photos --workdir runs/diff64
  aigc train --config configs/diffusion_folder.py:res32 --config.data.path=~/photos --workdir runs/diff32
  aigc train --config configs/diffusion_folder.py:cond+res32 --config.data.path=~/pets --workdir runs/pets
  aigc sample --workdir runs/pets --labels cat --steps 18 --guidance 2 --num 16 --out cats.png
  aigc eval --workdir runs/diff64 --steps 18 --metrics fid,is --inception-weights pt_inception.safetensors

Variants ("+" to combine): res32, res64 (the default); cond (class-conditional: the
number of classes and their names come from the class folders); flow (rectified flow
instead of EDM's objective, as diffusion_digits trains); grey; center_crop / random_crop;
smoke (tiny, for tests). These sizes are meant for a GPU; on a CPU, start
from res32 with --config.model.base_channels=32.
"""

from aigc_jax.configs import common, diffusion_digits
from aigc_jax.configs.dcgan_folder import folder_data


def get_config(variant: str = ""):
  """`variant`: "+"-separated names of `VARIANTS`."""
  config = diffusion_digits.get_config()
  diffusion_digits.edm(config)  # EDM's objective: the flow (`:flow`) was measured on digits only.
  config.num_steps = 50000
  config.sample_every = 5000
  config.checkpoint_every = 5000
  config.num_grid_samples = 64
  config.data = folder_data(64)
  config.model.num_classes = 0  # cond: > 0, replaced by the folder's class count.
  config.model.base_channels = 64
  config.model.attention_resolutions = (16, 8)
  config.model.dropout = 0.1
  config.optimizer.lr = 5e-4
  config.optimizer.warmup_steps = 1000
  config.ema_decay = 0.9995  # The most the EMA's decay reaches.
  config.ema_rampup = 0.05  # EDM's ramp-up: the half-life is 5% of the steps so far (0: constant decay).
  config.sampler.chunk = 256
  # The deterministic ODE sampler: digits' churn is not measured here.
  config.sampler.s_churn, config.sampler.s_tmin, config.sampler.s_tmax = 0.0, 0.0, float("inf")
  config.sampler.s_noise = 1.0
  config.eval.num_samples = 5000
  _set_resolution(config, 64)
  return common.apply_variants(config, variant, VARIANTS)


def _set_resolution(config, size):
  config.data.resolution = size
  config.model.channel_mult = {32: (1, 2, 2), 64: (1, 2, 2, 2)}[size]


def _resolution(size):
  return lambda config: _set_resolution(config, size)


def _cond(config):
  config.model.num_classes = 1  # Any value > 0: the folder's class count replaces it.


def _smoke(config):
  diffusion_digits.make_smoke(config)
  config.data.resolution = 32
  config.num_steps = 2
  config.batch_size = 4


VARIANTS = {
    "res32": _resolution(32),
    "res64": _resolution(64),
    "cond": _cond,
    "flow": diffusion_digits.flow,
    "grey": common.grey,
    "center_crop": common.resize_policy("center_crop"),
    "random_crop": common.resize_policy("random_crop"),
    "smoke": _smoke,
}
