r"""Contrastive pre-training of the text and image encoders on captioned `digits`.

Captions are made from each image's digit, stroke thickness and slant
(`aigc_jax.data.digit_captions`: "a thick seven leaning right", "7, thin and upright");
a small transformer embeds them, a small CNN embeds the 16x16 images, and the symmetric
contrastive loss (CLIP / AttnGAN's DAMSM) pulls each pair together. The word-level
vocabulary is built from the training captions and kept in the run's config.json.
The text-conditional GAN (`configs/text2img_digits.py`) freezes this run's encoders.

  aigc train --config configs/text_encoder_digits.py --workdir runs/text_encoder_digits
  aigc eval --workdir runs/text_encoder_digits     # r_precision on held-out captions

Expected (docs/text.md): trains in under 10 minutes on 2 CPU cores; R-precision on the
held-out split well above the 0.01 of chance.
"""

import ml_collections

from aigc_jax.configs import common


def get_config(variant: str = ""):
  """`variant`: "+"-separated names of `VARIANTS` ("smoke" is a tiny config for tests)."""
  config = common.get_config()
  config.task = "text_encoder"
  config.num_steps = 600
  config.batch_size = 64
  config.log_every = 50
  config.sample_every = 300
  config.checkpoint_every = 300
  config.num_grid_samples = 100  # 10 prompts x their 10 best test images.

  config.data = common.digits_data(resolution=16)
  # Where captions come from: "digits" (made from each image), "files" (a .txt beside
  # each image of a folder) or "feature" (a tfds text feature named by caption_key).
  config.data.caption_source = "digits"
  config.data.caption_key = "caption"

  config.tokenizer = ml_collections.ConfigDict()
  config.tokenizer.vocab = ()  # Empty: built from the training captions (config.json keeps it).
  config.tokenizer.max_len = 16  # Tokens per caption; longer captions are cut.
  config.tokenizer.min_count = 1  # Rarer words become <unk>.

  config.model = ml_collections.ConfigDict()
  config.model.width = 64  # The transformer's width.
  config.model.depth = 2
  config.model.heads = 4
  config.model.embed_dim = 64  # The shared image-text embedding.
  config.model.image_features = 32  # The image encoder's first width (doubled per stage).

  config.optimizer = ml_collections.ConfigDict()
  config.optimizer.lr = 1e-3
  config.optimizer.b1 = 0.9
  config.optimizer.b2 = 0.999
  return common.apply_variants(config, variant, VARIANTS)


def _make_smoke(config):
  """Tiny settings for tests: a few steps of narrow encoders."""
  config.num_steps = 4
  config.batch_size = 8
  config.log_every = 2
  config.sample_every = 4
  config.checkpoint_every = 2
  config.num_grid_samples = 4
  config.model.width = 16
  config.model.depth = 1
  config.model.heads = 2
  config.model.embed_dim = 16
  config.model.image_features = 8


VARIANTS = {"smoke": _make_smoke}
