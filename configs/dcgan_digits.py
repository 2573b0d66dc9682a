r"""DCGAN on the embedded `digits` dataset: the default `aigc train` run.

The seed's DCGAN architecture and optimizer (Adam 2e-4 / 0.5) at 16x16 grayscale, trained
with the hinge loss against a spectrally normalised discriminator without BatchNorm
(SN-GAN, Miyato et al., 2018). The seed's own recipe (non-saturating BCE loss, BatchNorm
discriminator) is the `seed` variant: on digits it reaches digits_is about 8.0 in 3000
steps against about 8.5 for this default at the same step time (docs/gan.md).

  aigc train --config configs/dcgan_digits.py --workdir runs/dcgan_digits
  aigc eval --workdir runs/dcgan_digits

See the README for the wall time and the digits_is / digits_fid it reaches, and
docs/gan.md for the GAN-family options below and the variants that turn them on, e.g.

  aigc train --config configs/dcgan_digits.py:wgan_gp --workdir runs/wgan_gp_digits

Variants combine with "+", applied in order: `configs/dcgan_digits.py:seed+ema`.
"""

import ml_collections

from aigc_jax.configs import common


def get_config(variant: str = ""):
  """`variant`: "+"-separated names of `VARIANTS` ("smoke" is a tiny config for tests)."""
  config = common.get_config()
  config.task = "gan"
  config.num_steps = 3000
  config.batch_size = 64
  config.log_every = 50
  config.sample_every = 500
  config.checkpoint_every = 500

  config.data = common.digits_data(resolution=16)

  config.model = ml_collections.ConfigDict()
  config.model.name = "dcgan"
  config.model.latent_dim = 100
  config.model.g_features = 64
  config.model.d_features = 64

  # How the generator is conditioned: "none", "class" or "attributes" (cgan configs).
  config.model.conditioning = "none"
  config.model.num_classes = 10
  config.model.num_attributes = 0
  config.model.embed_dim = 32  # The generator's embedding of the condition, joined to z.
  config.model.g_cbn = False  # Conditional BatchNorm in the generator.
  config.model.d_conditioning = "projection"  # Or "concat": y as constant input planes.
  # The discriminator's normalisation: "batch" (the seed's), "layer" or "none".
  config.model.d_norm = "none"
  config.model.d_spectral_norm = True

  # A name in aigc_jax.losses.LOSSES: non_saturating, hinge, least_squares, wasserstein.
  config.loss = "hinge"
  config.n_critic = 1  # Discriminator updates per generator update.
  config.gp_weight = 0.0  # WGAN-GP's lambda (10 in the paper); needs d_norm != "batch".
  config.r1_gamma = 0.0  # R1 penalty on real images, times gamma / 2.
  config.ema_decay = 0.0  # > 0 keeps an EMA of the generator for sampling and eval.
  config.diffaugment = ""  # A DiffAugment policy, e.g. "color,translation,cutout".
  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.g_lr = 2e-4
  config.optimizer.d_lr = 2e-4
  config.optimizer.b1 = 0.5
  config.optimizer.b2 = 0.999

  # Real-image augmentation before the discriminator (off in the seed's recipe).
  config.augment = ml_collections.ConfigDict()
  config.augment.flip = False
  config.augment.max_shift = 0
  config.augment.max_degrees = 0.0
  return apply_variants(config, variant)


def apply_variants(config, variant: str):
  """Applies the "+"-separated names of `VARIANTS` in `variant` to `config`, in order."""
  return common.apply_variants(config, variant, VARIANTS)


def _seed(config):
  """The PyTorch seed's recipe: non-saturating BCE loss and a BatchNorm discriminator."""
  config.loss = "non_saturating"
  config.model.d_norm = "batch"
  config.model.d_spectral_norm = False


def _hinge_sn(config):
  """Hinge loss and a spectrally normalised discriminator without BatchNorm (SN-GAN).

  The default already; kept as a name so other configs can ask for it explicitly."""
  config.loss = "hinge"
  config.model.d_norm = "none"
  config.model.d_spectral_norm = True


def _wgan_gp(config):
  """WGAN-GP: Wasserstein loss, lambda 10 on interpolates, 5 critic updates, LayerNorm D.

  Adam (1e-4, 0.5, 0.9) as in the paper's DCGAN experiments."""
  config.loss = "wasserstein"
  config.gp_weight = 10.0
  config.n_critic = 5
  config.model.d_norm = "layer"
  config.model.d_spectral_norm = False  # The paper's critic: the penalty alone.
  config.optimizer.g_lr = config.optimizer.d_lr = 1e-4
  config.optimizer.b2 = 0.9


def _least_squares(config):
  """LSGAN (Mao et al., 2017) on the seed's BatchNorm discriminator."""
  config.loss = "least_squares"
  config.model.d_norm = "batch"
  config.model.d_spectral_norm = False


def _r1(config):
  """Non-saturating loss with an R1 penalty on reals (gamma 0.1), no BatchNorm or
  spectral norm in D (Mescheder et al., 2018)."""
  config.loss = "non_saturating"
  config.r1_gamma = 0.1
  config.model.d_norm = "none"
  config.model.d_spectral_norm = False


def _ema(config):
  config.ema_decay = 0.999


def _diffaugment(config):
  config.diffaugment = "color,translation,cutout"


def _make_smoke(config):
  """Tiny settings for tests: a few steps of narrow models."""
  config.num_steps = 4
  config.batch_size = 8
  config.log_every = 2
  config.sample_every = 4
  config.checkpoint_every = 2
  config.num_grid_samples = 4
  config.model.g_features = 8
  config.model.d_features = 8
  config.model.latent_dim = 16


# Named variants of this config (`configs/dcgan_digits.py:NAME`, "+" to combine).
VARIANTS = {
    "smoke": _make_smoke,
    "seed": _seed,
    "hinge_sn": _hinge_sn,
    "wgan_gp": _wgan_gp,
    "least_squares": _least_squares,
    "r1": _r1,
    "ema": _ema,
    "diffaugment": _diffaugment,
}
