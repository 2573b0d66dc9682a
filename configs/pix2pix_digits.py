r"""pix2pix on the embedded `digits`: edges -> digit, 16x16 grayscale, offline.

Each training pair is a digit's edges (a Sobel threshold, `aigc_jax.data.paired`) and the
digit itself, loaded at 18 pixels and randomly cropped to 16 with random flips, as the
recipe loads at 286 and crops to 256. The recipe's losses and optimizer (non-saturating
GAN + 100 x L1, Adam 2e-4 / 0.5, constant then linear decay); a smaller U-Net (4
levels at 16x16, ngf 32) and batch 16 instead of 1, so it trains in minutes on a CPU.

  aigc train --config configs/pix2pix_digits.py --workdir runs/pix2pix_digits
  aigc eval --workdir runs/pix2pix_digits
  aigc translate --workdir runs/pix2pix_digits --input edges.png --out digit.png

Variants: `:crf` ends the generator in a learnable Gaussian CRF guided by the input
(`aigc_jax.crf`); `:instance` uses instance normalisation; `:l1` trains with L1 alone
(the baseline without the adversarial loss); `:running` tests with dropout off and
running statistics. docs/pix2pix.md has the figures.
"""

import ml_collections

from aigc_jax.configs import common
from aigc_jax.data import paired


def get_config(variant: str = ""):
  config = common.get_config()
  config.task = "pix2pix"
  config.num_steps = 2000
  config.batch_size = 16
  config.log_every = 50
  config.sample_every = 500
  config.checkpoint_every = 500
  config.num_grid_samples = 16

  config.data = paired.default_config()
  config.data.source = "digits_edges"
  config.data.load_size = 18
  config.data.crop_size = 16
  config.data.flip = True

  config.model = ml_collections.ConfigDict()
  config.model.ngf = 32
  config.model.ndf = 32
  config.model.n_layers_d = 1  # 1 stride-2 layer: 7x7-pixel patches' scores at 16x16.
  config.model.norm = "batch"  # Or "instance".
  config.model.crf = ml_collections.ConfigDict()
  config.model.crf.enabled = False
  config.model.crf.lam = 1.0
  config.model.crf.theta_a = 2.0  # Pixels.
  config.model.crf.theta_b = 0.3  # Guide units ([-1, 1] scale).
  config.model.crf.window = 5
  config.model.crf.iterations = 10
  config.model.crf.learnable = True

  config.loss = "non_saturating"
  config.gan_weight = 1.0  # 0: the L1-only U-Net (the `l1` variant).
  config.lambda_l1 = 100.0
  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.lr = 2e-4
  config.optimizer.b1 = 0.5
  config.optimizer.b2 = 0.999
  # How a trained generator runs: "paper" (dropout on, the test batch's statistics, as
  # the paper and its release test) or "running" (dropout off, running statistics).
  config.test_mode = "paper"
  return common.apply_variants(config, variant, VARIANTS)


def _crf(config):
  config.model.crf.enabled = True


def _instance(config):
  config.model.norm = "instance"


def _l1(config):
  """The L1-only U-Net: the baseline without the adversarial loss."""
  config.gan_weight = 0.0


def _running(config):
  config.test_mode = "running"


def _smoke(config):
  config.num_steps = 4
  config.batch_size = 4
  config.log_every = 2
  config.sample_every = 4
  config.checkpoint_every = 2
  config.num_grid_samples = 4
  config.model.ngf = 8
  config.model.ndf = 8


VARIANTS = {"smoke": _smoke, "crf": _crf, "instance": _instance, "l1": _l1, "running": _running}
