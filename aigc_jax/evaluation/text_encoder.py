"""What `aigc eval` reports for a contrastive encoder run: R-precision on held-out captions.

R-precision as AttnGAN reports it (R = 1, 100 candidates; `aigc_jax.text.losses.r_precision`):
for each held-out image, its caption against 99 captions of other held-out images that
say something else; the fraction ranked first. Chance is 0.01.
"""

import numpy as np

from aigc_jax.data import captions
from aigc_jax.text import tokenizer as tokenizer_lib
from aigc_jax.train import text_encoder


def caption_groups(split: captions.CaptionedSplit, chosen: list[str]) -> np.ndarray:
  """One int per example: captions that say the same thing share it (the captioned
  digits: the same digit, thickness and slant; otherwise the same words)."""
  if split.attributes is not None:
    from aigc_jax.data import digit_captions
    return digit_captions.attribute_group(split.attributes)
  index = {}
  return np.asarray([index.setdefault(" ".join(tokenizer_lib.words(c)), len(index)) for c in chosen])


def held_out_r_precision(model, tok, params, data_config, images=None, seed: int = 0) -> float:
  """R-precision of the encoders (`params`: {"text", "image"}) on the test split: each
  image (or each of `images`, float32 [N, R, R, C] in [-1, 1], generated for the test
  images' captions) against a caption of its own, drawn with `seed`."""
  split = captions.load_split(data_config, "test")
  rng = np.random.default_rng(seed)
  chosen = [cs[rng.integers(len(cs))] for cs in split.captions]
  tokens = tok.tokenizer.encode_batch(chosen, tok.max_len)
  text_emb = text_encoder.embed_texts(model, tok, params, tokens)
  image_emb = text_encoder.embed_images(model, tok, params, split.images if images is None else images)
  from aigc_jax.text import losses
  return losses.r_precision(image_emb, text_emb, caption_groups(split, chosen), seed=seed)


def evaluate(run, *, seed=0) -> dict:
  opts = run.opts
  split = captions.load_split(opts.data.config, "test")
  return {"step": int(run.state.step), "num_test": len(split.images),
          "r_precision": held_out_r_precision(opts.model, opts.tokenizer, run.state.params, opts.data.config,
                                              seed=seed)}
