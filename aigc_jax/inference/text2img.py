"""What a trained text-conditional GAN does: draw images that follow prompts.

  run = inference.load("runs/text2img_digits")
  images = text2img.sample(run, jax.random.key(0), 8, prompts=["a thick seven leaning right"])

The run's workdir holds all it needs: the vocabulary (config.json) and the frozen text
encoder (the checkpoint). Words outside the vocabulary become the unknown token, with
a warning that names them.
"""

import warnings

import jax
import numpy as np

from aigc_jax.data import captions
from aigc_jax.errors import UserError
from aigc_jax.train import text2img


def prompt_tokens(opts, prompts) -> np.ndarray:
  """Prompts (a list of str) -> int32 ids [len(prompts), L]; warns about each prompt with
  unknown words (naming them) or words past the encoder's length."""
  tok = opts.text_encoder.tokenizer
  rows = []
  for prompt in prompts:
    ids, unknown, dropped = tok.tokenizer.encode(prompt, tok.max_len)
    if unknown:
      warnings.warn(f"prompt {prompt!r}: unknown word(s) {', '.join(map(repr, dict.fromkeys(unknown)))} "
                    f"(not in the run's vocabulary of {len(tok.vocab)} words) are read as <unk>", stacklevel=3)
    if dropped:
      warnings.warn(f"prompt {prompt!r}: the last {dropped} word(s) are cut (the encoder reads {tok.max_len})",
                    stacklevel=3)
    rows.append(ids)
  return np.stack(rows)


def default_prompts(opts, num: int) -> list[str]:
  """Without prompts: the held-out captions in turn (one of each test image)."""
  split = captions.load_split(opts.data.config, "test")
  return [split.captions[i % len(split.captions)][0] for i in range(num)]


def sample(run, key, num: int, labels=None, attributes=None, prompts=None) -> np.ndarray:
  """`num` images uint8 [num, R, R, C]; `prompts` (a list of str) are repeated over them
  in turn (without prompts: the held-out captions)."""
  if labels or attributes:
    raise UserError("a text2img run is conditioned on text: use --prompt or --prompts-file, "
                    "not --labels or --attributes")
  prompts = list(prompts) if prompts else default_prompts(run.opts, num)
  if any(not p.strip() for p in prompts):
    raise UserError("an empty prompt: give each prompt some words")
  tokens = prompt_tokens(run.opts, prompts)
  tokens = tokens[np.arange(num) % len(tokens)]
  z = jax.random.normal(key, (num, run.opts.model.latent_dim))
  return text2img.generate(run.opts, run.state, z, tokens)
