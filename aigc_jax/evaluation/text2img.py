"""What `aigc eval` reports for a text-conditional GAN.

On the captioned digits, `num_samples` prompts name a digit (each in turn), a
thickness and a slant (each level drawn uniformly), written with the caption
templates; the images generated for them are scored:
- `conditional_accuracy`: how often the shipped digits classifier reads the digit the
  prompt names; `digits_is`, `digits_fid` and the other digits metrics
  (`evaluation.digits_metrics`);
- `thickness_correlation`, `slant_correlation`: Pearson's correlation between the
  requested level (-1, 0, 1) and the property measured on the generated image,
  relative to its digit's training median (`aigc_jax.data.digit_captions`);
- `r_precision`: AttnGAN's R-precision of images generated for the held-out captions,
  ranked by the frozen contrastive encoders; `encoder_r_precision` the same for the
  real held-out images (the encoders' own ceiling).
On other captioned data, the prompts are the held-out captions, and the scores are
the R-precisions and the Inception metrics asked for with `--metrics`.
"""

import jax
import numpy as np

from aigc_jax.data import captions, pipeline
from aigc_jax.evaluation import run_eval, text_encoder as encoder_eval
from aigc_jax.inference import text2img as text2img_inference
from aigc_jax.train import keys, text2img


def digit_prompts(num: int, seed: int) -> tuple[list[str], np.ndarray]:
  """(prompts, int [num, 3] of their (digit, thickness, slant) levels): digits in turn,
  levels uniform, templates and synonyms drawn with `seed`."""
  from aigc_jax.data import digit_captions
  rng = np.random.default_rng(seed)
  wanted = np.stack([np.arange(num) % 10, rng.integers(-1, 2, num), rng.integers(-1, 2, num)], axis=1)
  return [digit_captions.caption(d, t, s, rng) for d, t, s in wanted], wanted


def property_correlations(images_uint8, wanted) -> dict:
  """Pearson correlations of requested thickness and slant levels with the measured ones."""
  from aigc_jax.data import digit_captions
  thickness, slant = digit_captions.train_stats().relative(images_uint8, wanted[:, 0])
  return {"thickness_correlation": float(np.corrcoef(wanted[:, 1], thickness)[0, 1]),
          "slant_correlation": float(np.corrcoef(wanted[:, 2], slant)[0, 1])}


def evaluate(run, *, num_samples=None, seed=0, metrics=None, ref=None, inception_weights=None) -> dict:
  opts, state = run.opts, run.state
  num = num_samples or 2000
  key = keys.stream_key(seed, "eval")
  z = jax.random.normal(key, (num, opts.model.latent_dim))
  digits = opts.data.caption_source == "digits"
  if digits:
    prompts, wanted = digit_prompts(num, seed)
  else:
    prompts, wanted = text2img_inference.default_prompts(opts, num), None
  images = text2img.generate(opts, state, z, text2img_inference.prompt_tokens(opts, prompts))
  result = run_eval.generator_metrics(opts.data, images, step=int(state.step), metrics=metrics, ref=ref,
                                      inception_weights=inception_weights,
                                      labels=wanted[:, 0] if digits else None)
  if digits:
    result.update(property_correlations(images, wanted))
  enc = opts.text_encoder
  result["encoder_r_precision"] = encoder_eval.held_out_r_precision(enc.model, enc.tokenizer, state.encoder,
                                                                    opts.data.config, seed=seed)
  result["r_precision"] = _generated_r_precision(opts, state, seed)
  return result


def _generated_r_precision(opts, state, seed: int) -> float:
  """R-precision of images generated for the held-out captions (one each, drawn with
  `seed`, as `held_out_r_precision` draws them)."""
  split = captions.load_split(opts.data.config, "test")
  rng = np.random.default_rng(seed)
  chosen = [cs[rng.integers(len(cs))] for cs in split.captions]
  tok = opts.text_encoder.tokenizer
  z = jax.random.normal(jax.random.fold_in(keys.stream_key(seed, "eval"), 1), (len(chosen), opts.model.latent_dim))
  generated = text2img.generate(opts, state, z, tok.tokenizer.encode_batch(chosen, tok.max_len))
  return encoder_eval.held_out_r_precision(opts.text_encoder.model, tok, state.encoder, opts.data.config,
                                           images=pipeline.to_model_range(generated), seed=seed)
