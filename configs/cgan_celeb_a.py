r"""An attribute-conditional DCGAN on CelebA (tensorflow-datasets `celeb_a`), 64x64 RGB.

The generator is conditioned on the 40 binary attributes as a multi-hot vector (in the
sorted order of their names, see `aigc_jax.data.pipeline`); the discriminator is a
spectrally normalised projection discriminator with the hinge loss; faces are the
central 140x140 of the 218x178 images, resized to 64x64. Sample by attribute names:

  aigc train --config configs/cgan_celeb_a.py --workdir runs/cgan_celeb_a --config.data.download=True
  aigc sample --workdir runs/cgan_celeb_a --attributes "Smiling,Eyeglasses" --out smiling.png

(tfds' celeb_a download needs manual steps on some machines; see its catalog page.)
Not benchmarked here (no network, 2 CPU cores); the tests run it on mock data.
"""

from aigc_jax.configs import dcgan_digits

NUM_ATTRIBUTES = 40


def get_config(variant: str = ""):
  """`variant`: names of `dcgan_digits.VARIANTS` joined by "+" (e.g. "smoke")."""
  config = dcgan_digits.get_config("hinge_sn")
  config.data.name = "celeb_a"
  config.data.resolution = 64
  config.data.channels = 3
  config.data.center_crop = 140
  config.model.conditioning = "attributes"
  config.model.num_attributes = NUM_ATTRIBUTES
  config.model.d_conditioning = "projection"
  config.augment.flip = True
  config.ema_decay = 0.999
  config.num_steps = 50_000
  config.sample_every = config.checkpoint_every = 2500
  return dcgan_digits.apply_variants(config, variant)
