"""Contrastive pre-training of a text encoder and an image encoder (CLIP / DAMSM style).

The run that a text-conditional GAN (`aigc_jax.train.text2img`) takes its frozen text
encoder from. Each step takes B (image, caption) pairs, embeds the captions with the
`TextEncoder` and the images with the `ImageEncoder` (`aigc_jax.models.text`), and
minimises the symmetric contrastive loss (`aigc_jax.text.losses.contrastive_loss`):
each image must pick its own caption among the batch's captions and each caption its
image, at a learned temperature (its scale capped at 100, as CLIP caps it).

The tokenizer is word-level (`aigc_jax.text.tokenizer`) and is built from the training
captions when the config is parsed, if `config.tokenizer.vocab` is empty; the
vocabulary is written into the config (config.json keeps it), so everything that uses
the run later (sampling, the GAN that freezes its encoder) needs only the workdir.

Options and pieces shared with the text-conditional GAN are here: `CaptionData`
(`config.data` with its caption keys), `TokenizerOptions`, `EncoderModel`.
"""

import dataclasses
import functools
import math

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from aigc_jax import options as options_lib
from aigc_jax.data import captions
from aigc_jax.models import text as text_models
from aigc_jax.options import inline, require, section
from aigc_jax.text import losses as text_losses, tokenizer as tokenizer_lib
from aigc_jax.train import adversarial
from aigc_jax.train.adversarial import Adam
from aigc_jax.train.task import RunOptions, Task

# CLIP's initial temperature 0.07 and its cap on the logit scale, 100.
INITIAL_LOG_SCALE = math.log(1 / 0.07)
MAX_LOG_SCALE = math.log(100.0)
# Rows of the retrieval grid: one prompt per digit (captioned digits), else test captions.
_GRID_TEMPLATE = "a medium {} upright"


@dataclasses.dataclass(frozen=True)
class CaptionData:
  """`config.data` of a captioned dataset (`aigc_jax.data.captions` explains the keys)."""
  name: str
  resolution: int
  channels: int
  caption_source: str
  caption_key: str
  config: ml_collections.ConfigDict = section()

  def check(self):
    require(self.channels in (1, 3), f"data.channels must be 1 or 3, got {self.channels}")
    require(self.resolution >= 4, f"data.resolution must be at least 4, got {self.resolution}")
    captions.check(self.config)


@dataclasses.dataclass(frozen=True)
class TokenizerOptions:
  """`config.tokenizer`: the vocabulary (built from the training captions when empty),
  the token length of a caption (longer ones are cut) and the rarest word kept."""
  vocab: tuple[str, ...]
  max_len: int
  min_count: int

  def check(self):
    require(self.max_len >= 1, f"tokenizer.max_len must be at least 1, got {self.max_len}")
    require(self.min_count >= 1, f"tokenizer.min_count must be at least 1, got {self.min_count}")
    require(len(self.vocab) >= 1, "tokenizer.vocab is empty: the training captions have no word")

  @property
  def tokenizer(self) -> tokenizer_lib.Tokenizer:
    return tokenizer_lib.Tokenizer(self.vocab)


@dataclasses.dataclass(frozen=True)
class EncoderModel:
  """`config.model` of the encoders: the transformer's width, depth and heads, the
  image encoder's first width, and the size of the shared embedding."""
  width: int
  depth: int
  heads: int
  embed_dim: int
  image_features: int

  def check(self):
    for name in ("width", "depth", "heads", "embed_dim", "image_features"):
      require(getattr(self, name) >= 1, f"model.{name} must be at least 1, got {getattr(self, name)}")
    require(self.width % self.heads == 0, f"model.width {self.width} must be a multiple of model.heads {self.heads}")


@dataclasses.dataclass(frozen=True)
class TextEncoderOptions:
  run: RunOptions = inline()
  data: CaptionData
  tokenizer: TokenizerOptions
  model: EncoderModel
  optimizer: Adam


@flax.struct.dataclass
class EncoderState:
  step: jax.Array
  params: dict  # {"text": ..., "image": ..., "log_scale": float32 scalar}
  opt_state: optax.OptState


def fill_vocab(config):
  """Builds `config.tokenizer.vocab` from the training captions if it is empty."""
  if "tokenizer" not in config or "data" not in config or config.tokenizer.get("vocab"):
    return
  captions.check(config.data)
  split = captions.load_split(config.data, "train")
  built = tokenizer_lib.build(split.all_captions(), config.tokenizer.min_count)
  config.tokenizer.vocab = tuple(built.vocab)


def parse(config) -> TextEncoderOptions:
  fill_vocab(config)
  return options_lib.parse(TextEncoderOptions, config)


def build_models(model: EncoderModel, tok: TokenizerOptions):
  """(TextEncoder, ImageEncoder) Flax modules."""
  text = text_models.TextEncoder(vocab_size=tok.tokenizer.size, max_len=tok.max_len, width=model.width,
                                 depth=model.depth, heads=model.heads, embed_dim=model.embed_dim)
  image = text_models.ImageEncoder(features=model.image_features, embed_dim=model.embed_dim)
  return text, image


def init_params(model: EncoderModel, tok: TokenizerOptions, data: CaptionData, key) -> dict:
  text, image = build_models(model, tok)
  kt, ki = jax.random.split(key)
  r, c = data.resolution, data.channels
  return {"text": text.init(kt, jnp.zeros((1, tok.max_len), jnp.int32))["params"],
          "image": image.init(ki, jnp.zeros((1, r, r, c)))["params"],
          "log_scale": jnp.asarray(INITIAL_LOG_SCALE, jnp.float32)}


def _tx(opts: TextEncoderOptions):
  o = opts.optimizer
  return optax.adam(o.lr, b1=o.b1, b2=o.b2)


def init_state(opts: TextEncoderOptions, key) -> EncoderState:
  params = init_params(opts.model, opts.tokenizer, opts.data, key)
  return EncoderState(step=jnp.zeros((), jnp.int32), params=params, opt_state=_tx(opts).init(params))


def make_train_step(opts: TextEncoderOptions):
  """Returns `train_step(state, batch, key) -> (state, metrics)`, pure and jit-able."""
  text, image = build_models(opts.model, opts.tokenizer)
  tx = _tx(opts)

  def loss_fn(params, batch):
    _, sentence = text.apply({"params": params["text"]}, batch["tokens"])
    embedding = image.apply({"params": params["image"]}, batch["image"])
    per_example = text_losses.contrastive_loss(embedding, sentence, params["log_scale"])
    similarity = text_losses.l2_normalize(embedding) @ text_losses.l2_normalize(sentence).T
    accuracy = jnp.mean(jnp.argmax(similarity, axis=1) == jnp.arange(similarity.shape[0]))
    return jnp.mean(per_example), accuracy

  def train_step(state: EncoderState, batch, key):
    del key  # Nothing random in a step: the batch holds the drawn captions.
    (loss, accuracy), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params, batch)
    params, opt_state = adversarial.apply_gradients(tx, state.params, state.opt_state, grads)
    params = {**params, "log_scale": jnp.minimum(params["log_scale"], MAX_LOG_SCALE)}
    metrics = {"loss": loss, "batch_accuracy": accuracy, "scale": jnp.exp(params["log_scale"])}
    return state.replace(step=state.step + 1, params=params, opt_state=opt_state), metrics
  return train_step


def train_batches(opts: TextEncoderOptions, start_step: int):
  split = captions.load_split(opts.data.config, "train")
  return captions.train_batches(split, opts.tokenizer.tokenizer, opts.tokenizer.max_len,
                                batch_size=opts.run.batch_size, seed=opts.run.seed, start_step=start_step)


# ------------------------------------------------------------------------ embeddings

@functools.lru_cache(maxsize=8)
def _programs(model: EncoderModel, tok: TokenizerOptions):
  text, image = build_models(model, tok)
  embed_text = jax.jit(lambda p, t: text.apply({"params": p}, t)[1])
  embed_image = jax.jit(lambda p, x: image.apply({"params": p}, x))
  return embed_text, embed_image


def embed_texts(model: EncoderModel, tok: TokenizerOptions, params: dict, tokens, chunk: int = 256) -> np.ndarray:
  """Token ids int32 [N, L] -> sentence embeddings float32 [N, D] (not normalised)."""
  from aigc_jax.train import chunked
  program = functools.partial(_programs(model, tok)[0], params["text"])
  return chunked.chunked_apply(program, np.asarray(tokens), chunk=chunk)


def embed_images(model: EncoderModel, tok: TokenizerOptions, params: dict, images, chunk: int = 256) -> np.ndarray:
  """Images float32 [N, R, R, C] in [-1, 1] -> image embeddings float32 [N, D]."""
  from aigc_jax.train import chunked
  program = functools.partial(_programs(model, tok)[1], params["image"])
  return chunked.chunked_apply(program, np.asarray(images), chunk=chunk)


def grid_prompts(split: captions.CaptionedSplit, rows: int) -> list[str]:
  """The prompts of the grids: one per digit for the captioned digits, else the first
  caption of the first test images."""
  if split.attributes is not None:
    from aigc_jax.data import digit_captions
    return [_GRID_TEMPLATE.format(digit_captions.NUMBER_WORDS[d]) for d in range(10)][:rows]
  return [cs[0] for cs in split.captions[:rows]]


def sample_grid(opts: TextEncoderOptions, state: EncoderState):
  """Retrieval: a row per prompt (`grid_prompts`), its best-matching test images in order."""
  split = captions.load_split(opts.data.config, "test")
  n = opts.run.num_grid_samples
  rows = max(1, min(10, int(np.sqrt(n))))
  ncols = max(1, min(n // rows, len(split.images)))
  prompts = grid_prompts(split, rows)
  tokens = opts.tokenizer.tokenizer.encode_batch(prompts, opts.tokenizer.max_len)
  t = text_losses.l2_normalize(jnp.asarray(embed_texts(opts.model, opts.tokenizer, state.params, tokens)))
  i = text_losses.l2_normalize(jnp.asarray(embed_images(opts.model, opts.tokenizer, state.params, split.images)))
  best = np.argsort(-np.asarray(t @ i.T), axis=1)[:, :ncols]
  from aigc_jax.data import pipeline
  return pipeline.to_uint8(split.images[best.reshape(-1)]), ncols


TASK = Task(parse=parse, init_state=init_state, make_train_step=make_train_step,
            train_batches=train_batches, sample_grid=sample_grid)
