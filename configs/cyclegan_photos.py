r"""CycleGAN between crops of scikit-learn's two sample photos: runs offline, anywhere.

Domain A is 64x64 crops of a pagoda photo, domain B of a dahlia photo
(`aigc_jax.data.photos`); the recipe is the paper's (configs/cyclegan_horse2zebra.py)
scaled to 64x64 images and a CPU: 6 residual blocks (the paper's choice for small
images), narrower networks (ngf 16, ndf 32), images loaded at 72 and cropped to 64, and
a short schedule (3 + 2 epochs of 256 crops: 1280 steps, minutes on a laptop CPU).

  aigc train --config configs/cyclegan_photos.py --workdir runs/cyclegan_photos
  aigc eval --workdir runs/cyclegan_photos
  aigc translate --workdir runs/cyclegan_photos --input photo.jpg --out flowery.png

See docs/cyclegan.md for a measured run (wall time, cycle_error before and after).
"""

from aigc_jax.configs import common, cyclegan_horse2zebra


def get_config(variant: str = ""):
  """`variant` "smoke" gives a tiny config for tests (`configs/cyclegan_photos.py:smoke`)."""
  config = cyclegan_horse2zebra.get_config()
  config.log_every = 32
  config.sample_every = 256
  config.checkpoint_every = 256
  config.num_grid_samples = 8
  config.n_epochs = 3
  config.n_epochs_decay = 2
  config.steps_per_epoch = 256  # num_train / batch_size: 1280 steps in all.

  d = config.data
  d.source = "photos"
  d.photo_size = 64  # Side of the crops cut from the photos (after scaling).
  d.photo_scale = 0.5  # The photos are scaled by this before cropping (427x640 -> 214x320).
  d.photo_seed = 0
  d.num_train = 256  # Crops per domain.
  d.num_test = 16
  d.load_size = 72
  d.crop_size = 64

  config.model.ngf = 16  # The paper's 64 costs ~6x the time per step on a CPU.
  config.model.ndf = 32
  config.model.n_blocks = 6
  return common.apply_variants(config, variant, {"smoke": _make_smoke})


def _make_smoke(config):
  """Tiny settings for tests: 32x32 crops, narrow networks, two residual blocks, 4 steps.

  The schedule is that of a 450-step run (`--config.num_steps=450` gives it), so that
  the tests' short and long runs share one compiled train step.
  """
  config.log_every = 2
  config.sample_every = 4
  config.checkpoint_every = 2
  config.num_grid_samples = 8
  config.n_epochs = 2
  config.n_epochs_decay = 1
  config.steps_per_epoch = 150
  config.num_steps = 4
  d = config.data
  d.photo_size = 32
  d.photo_scale = 0.25  # So that a 32 px crop shows as much of the scene as 64 px at 0.5.
  d.num_train = 64
  d.num_test = 8
  d.load_size = 36
  d.crop_size = 32
  config.model.ngf = 16
  config.model.ndf = 16
  config.model.n_blocks = 2
