r"""An SN-GAN-style DCGAN on CIFAR-10 (tensorflow-datasets `cifar10`), 32x32 RGB.

Hinge loss, a spectrally normalised discriminator without BatchNorm (Miyato et al.,
2018, "standard CNN" setting: Adam 2e-4, betas 0.5 / 0.999, one D step per G step),
random horizontal flips of the real images, and an EMA of the generator for sampling.

  aigc train --config configs/dcgan_cifar10.py --workdir runs/dcgan_cifar10 --config.data.download=True
  aigc eval --workdir runs/dcgan_cifar10 --metrics fid,is --inception-weights WEIGHTS

Not benchmarked here (the machine that wrote it has no network and 2 CPU cores).
"""

from aigc_jax.configs import dcgan_digits


def get_config(variant: str = ""):
  """`variant`: names of `dcgan_digits.VARIANTS` joined by "+" (e.g. "smoke")."""
  config = dcgan_digits.get_config("hinge_sn")
  config.data.name = "cifar10"
  config.data.resolution = 32
  config.data.channels = 3
  config.augment.flip = True
  config.ema_decay = 0.999
  config.num_steps = 50_000
  config.sample_every = config.checkpoint_every = 2500
  return dcgan_digits.apply_variants(config, variant)
