r"""DCGAN, or a class-conditional cGAN, on your own folder of images at 32, 64 or 128 pixels.

The folder is `data.path`: flat (unconditional), one sub-folder per class (labels, for
the `cgan` variant), optionally inside train/ and test/ (else 10% is held out). It is
prepared once into a dataset next to your other tensorflow-datasets data
(`aigc_jax.data.folder`; `aigc prepare` does it ahead of time) and streamed from there.
The DCGAN's depth follows the resolution: one stride-2 stage per doubling from 4x4
(3 at 32, 4 at 64, 5 at 128 pixels); the recipe is dcgan_digits' default (hinge loss,
spectrally normalised discriminator).

  aigc prepare --data ~/photos
  aigc train --config configs/dcgan_folder.py --config.data.path=~/photos --workdir runs/photos64
  aigc train --config configs/dcgan_folder.py:res32 --config.data.path=~/photos --workdir runs/photos32
  aigc train --config configs/dcgan_folder.py:res128 --config.data.path=~/photos --workdir runs/photos128
  aigc train --config configs/dcgan_folder.py:cgan+res32 --config.data.path=~/pets --workdir runs/pets
  aigc sample --workdir runs/pets --labels cat,dog --num 16 --out pets.png
  aigc sample --workdir runs/pets --num 1000 --out-dir generated/   # a folder dataset again

Variants ("+" to combine): res32, res64 (the default), res128; cgan (class-conditional:
the number of classes and their names come from the class folders); grey (one
channel); center_crop / random_crop (the resize policy for non-square photos; the
default squeezes the whole image); smoke (tiny, for tests); and every variant of
configs/dcgan_digits.py (seed, wgan_gp, ema, diffaugment, ...). docs/data.md has
measured runs.
"""

import ml_collections

from aigc_jax.configs import common, dcgan_digits
from aigc_jax.data import folder


def folder_data(resolution: int, channels: int = 3):
  """`config.data` for a folder of images (set `path` on the command line)."""
  data = ml_collections.ConfigDict()
  data.name = "folder"
  data.path = ""  # --config.data.path=DIR
  data.data_dir = ml_collections.config_dict.placeholder(str)  # Default: $TFDS_DATA_DIR or ~/tensorflow_datasets.
  data.resolution = resolution
  data.channels = channels
  data.resize = "resize"  # "resize", "center_crop" or "random_crop" (aigc_jax.data.pipeline).
  data.test_fraction = folder.DEFAULT_TEST_FRACTION  # Held out when there is no train/ test/.
  data.max_size = folder.MAX_SIZE  # Stored shorter side (raised to the resolution if smaller).
  return data


def get_config(variant: str = ""):
  """`variant`: "+"-separated names of `VARIANTS`."""
  config = dcgan_digits.get_config()
  config.num_steps = 10000
  config.sample_every = 1000
  config.checkpoint_every = 1000
  config.data = folder_data(64)
  # Class-conditional runs (variant cgan) get the number of classes from the folder
  # when the config is parsed; 0 here, as the default run is unconditional.
  config.model.num_classes = 0
  return common.apply_variants(config, variant, VARIANTS)


def _resolution(size):
  def set_resolution(config):
    config.data.resolution = size
  return set_resolution


def _cgan(config):
  """Class-conditional: a label embedding joined to z and a projection discriminator."""
  config.model.conditioning = "class"
  config.model.d_conditioning = "projection"
  config.model.num_classes = 1  # Any value > 0: the folder's class count replaces it.


def _smoke(config):
  dcgan_digits.VARIANTS["smoke"](config)
  config.data.resolution = 16


VARIANTS = {
    **dcgan_digits.VARIANTS,
    "res32": _resolution(32),
    "res64": _resolution(64),
    "res128": _resolution(128),
    "cgan": _cgan,
    "grey": common.grey,
    "center_crop": common.resize_policy("center_crop"),
    "random_crop": common.resize_policy("random_crop"),
    "smoke": _smoke,
}
