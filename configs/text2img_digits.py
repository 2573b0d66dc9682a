r"""Text-conditional GAN on captioned `digits`: prompts in, digits that follow them out.

First pre-train the encoders (`configs/text_encoder_digits.py`), then train the GAN on
their frozen text encoder: a DCGAN generator whose input and conditional BatchNorm take
the caption's sentence embedding, and a matching-aware projection discriminator with
the hinge loss and spectral norm (`aigc_jax.train.text2img`).

  aigc train --config configs/text_encoder_digits.py --workdir runs/text_encoder_digits
  aigc train --config configs/text2img_digits.py --workdir runs/text2img_digits \
      --config.text_encoder_workdir=runs/text_encoder_digits
  aigc sample --workdir runs/text2img_digits --prompt "a thick seven leaning right" --num 16 --out 7.png
  aigc eval --workdir runs/text2img_digits

Expected (docs/text.md): each run trains in under 10 minutes on 2 CPU cores; the
shipped classifier agrees with the prompt's digit at least 95% of the time, and the
requested thickness and slant correlate with the measured ones above 0.5.
"""

import ml_collections

from aigc_jax.configs import common, text_encoder_digits


def get_config(variant: str = ""):
  """`variant`: "+"-separated names of `VARIANTS` ("smoke" is a tiny config for tests)."""
  config = common.get_config()
  config.task = "text2img"
  config.num_steps = 1500
  config.batch_size = 64
  config.log_every = 50
  config.sample_every = 500
  config.checkpoint_every = 250
  config.num_grid_samples = 100  # A 10 x 10 grid: one row per digit's prompt.

  encoder = text_encoder_digits.get_config()
  config.data = encoder.data
  # The pre-trained encoder run (required). Its tokenizer and model are copied below
  # when the config is parsed; config.json keeps them.
  config.text_encoder_workdir = ""
  config.text_encoder = ml_collections.ConfigDict()
  config.text_encoder.tokenizer = encoder.tokenizer
  config.text_encoder.model = encoder.model

  config.model = ml_collections.ConfigDict()
  config.model.latent_dim = 100
  config.model.g_features = 64
  config.model.d_features = 32  # D sees 3B images a step (real, generated, mismatched).
  config.model.embed_dim = 32  # G's embedding of the sentence, joined to z.
  config.model.d_spectral_norm = True

  # A name in aigc_jax.losses.LOSSES; every loss there works with the matching-aware D.
  config.loss = "hinge"
  config.n_critic = 1
  config.gp_weight = 0.0  # Must stay 0: D's fakes are (generated, mismatched) pairs.
  config.r1_gamma = 0.0
  config.ema_decay = 0.0
  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.g_lr = 2e-4
  config.optimizer.d_lr = 2e-4
  config.optimizer.b1 = 0.5
  config.optimizer.b2 = 0.999
  return common.apply_variants(config, variant, VARIANTS)


def _make_smoke(config):
  """Tiny settings for tests: a few steps of narrow models (any encoder run fits)."""
  config.num_steps = 4
  config.batch_size = 8
  config.log_every = 2
  config.sample_every = 4
  config.checkpoint_every = 2
  config.num_grid_samples = 4
  config.model.g_features = 8
  config.model.d_features = 8
  config.model.latent_dim = 16
  config.model.embed_dim = 8


VARIANTS = {"smoke": _make_smoke}
