"""Text-conditional GAN: captions in, images that follow them out.

The generator and discriminator are the DCGAN family's (`aigc_jax.models.dcgan`),
conditioned on the sentence embedding of a frozen text encoder, pre-trained with its
image encoder by a contrastive run (`aigc_jax.train.text_encoder`) that the config
names with `text_encoder_workdir`:
- the condition y [B, D] is the L2-normalised sentence embedding of the caption;
- the generator joins a learned embedding of y to z and uses conditional BatchNorm
  (scale and shift as functions of y) in every stage;
- the discriminator is the projection discriminator (Miyato & Koyama, 2018) and is
  matching-aware (GAN-CLS, Reed et al., 2016): a real image with its caption is real;
  a generated image with its caption and a real image with another example's caption
  (the batch's captions shifted by one) are fake, each at half weight
  (`aigc_jax.text.losses.matching_aware_d_loss`).

One step is the family kit's adversarial update (`aigc_jax.train.adversarial.update`).
The kit's discriminator loss takes one "fake" per example; here each example's fake is
the pair (generated image, real image) [B, 2, H, W, C], which the critic scores with
(its caption, another caption) as logits [B, 2] against the real logits [B, 1]. The
kit's per-example loss is then d_loss(real, fake) / 2 + d_loss(real, mismatch) / 2
exactly, because every loss in `aigc_jax.losses.LOSSES` is a sum of a term in the
real logit and a term in the fake one. The gradient penalty, which interpolates real
and fake images, does not apply to the pairs (`gp_weight` must be 0; R1 does apply).

The frozen encoders (text and image: the image encoder is used by `aigc eval`'s
R-precision) live in the train state, copied from the encoder run's checkpoint when
the state is first initialised; the encoder's vocabulary and model options are copied
into this run's config when it is parsed. A trained text2img workdir therefore needs
nothing else to sample from prompts.
"""

import dataclasses
import functools

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from aigc_jax import configlib, losses, options as options_lib
from aigc_jax.data import captions, pipeline
from aigc_jax.errors import UserError
from aigc_jax.models import dcgan
from aigc_jax.options import inline, require
from aigc_jax.text import losses as text_losses
from aigc_jax.train import adversarial, chunked, gan, keys, text_encoder
from aigc_jax.train.adversarial import AdamPair, AdversarialOptions
from aigc_jax.train.task import RunOptions, Task
from aigc_jax.train.text_encoder import CaptionData, EncoderModel, TokenizerOptions


@dataclasses.dataclass(frozen=True)
class FrozenEncoder:
  """`config.text_encoder`: the encoder run's tokenizer and model, copied at parse time."""
  tokenizer: TokenizerOptions
  model: EncoderModel


@dataclasses.dataclass(frozen=True)
class Text2ImgModel:
  """`config.model`: the DCGAN widths, z's size and G's embedding of the condition."""
  latent_dim: int
  g_features: int
  d_features: int
  embed_dim: int
  d_spectral_norm: bool

  def check(self):
    for name in ("latent_dim", "g_features", "d_features", "embed_dim"):
      require(getattr(self, name) >= 1, f"model.{name} must be at least 1, got {getattr(self, name)}")


@dataclasses.dataclass(frozen=True)
class Text2ImgOptions:
  run: RunOptions = inline()
  adversarial: AdversarialOptions = inline()
  text_encoder_workdir: str
  text_encoder: FrozenEncoder
  data: CaptionData
  model: Text2ImgModel
  optimizer: AdamPair

  def check(self):
    gan.check_resolution(self.data.resolution)
    require(self.adversarial.gp_weight == 0, "gp_weight must be 0 for text2img: the matching-aware "
                                             "discriminator's fakes are pairs, which the penalty cannot interpolate")


@flax.struct.dataclass
class Text2ImgState:
  step: jax.Array
  g_params: dict
  g_batch_stats: dict
  d_params: dict
  d_batch_stats: dict  # Spectral norm's power-iteration vectors.
  g_opt_state: optax.OptState
  d_opt_state: optax.OptState
  g_ema_params: dict  # {} when `ema_decay` is 0.
  encoder: dict  # The frozen encoders: {"text", "image", "log_scale"}; never updated.


def copy_encoder_config(config):
  """Fills `config.text_encoder` from the run in `config.text_encoder_workdir` (once: a
  config whose vocabulary is already there, such as a run's config.json, is kept)."""
  section = config.get("text_encoder")
  if section is None or section.get("tokenizer", {}).get("vocab"):
    return
  workdir = config.get("text_encoder_workdir")
  if not workdir:
    raise UserError("text2img needs a pre-trained text encoder: train one with aigc train --config "
                    "configs/text_encoder_digits.py --workdir DIR, then pass --config.text_encoder_workdir=DIR")
  encoder = configlib.config_from_workdir(workdir)
  if encoder.get("task") != "text_encoder":
    raise UserError(f"--config.text_encoder_workdir {workdir!r} is a {encoder.get('task')!r} run, not a "
                    f"text_encoder run")
  for key in ("resolution", "channels"):
    if encoder.data.get(key) != config.data.get(key):
      raise UserError(f"the text encoder in {workdir!r} was trained at data.{key} {encoder.data.get(key)}, "
                      f"this config has {config.data.get(key)}")
  section.tokenizer = ml_collections.ConfigDict(encoder.tokenizer.to_dict())
  section.tokenizer.vocab = tuple(encoder.tokenizer.vocab)
  section.model = ml_collections.ConfigDict(encoder.model.to_dict())


def parse(config) -> Text2ImgOptions:
  copy_encoder_config(config)
  return options_lib.parse(Text2ImgOptions, config)


def build_models(opts: Text2ImgOptions):
  """(generator, discriminator) Flax modules, conditioned on the sentence embedding."""
  m, d = opts.model, opts.data
  cond_dim = opts.text_encoder.model.embed_dim
  g = dcgan.Generator(resolution=d.resolution, channels=d.channels, base_features=m.g_features,
                      cond_dim=cond_dim, embed_dim=m.embed_dim, cbn=True)
  disc = dcgan.Discriminator(resolution=d.resolution, base_features=m.d_features, norm="none",
                             spectral_norm=m.d_spectral_norm, cond_dim=cond_dim, conditioning="projection")
  return g, disc


def condition(opts: Text2ImgOptions, encoder_params: dict, tokens):
  """Token ids int32 [B, L] -> the condition y float32 [B, D]: the frozen encoder's
  sentence embedding, L2-normalised (no gradient flows into the encoder)."""
  text, _ = text_encoder.build_models(opts.text_encoder.model, opts.text_encoder.tokenizer)
  _, sentence = text.apply({"params": encoder_params["text"]}, tokens)
  return jax.lax.stop_gradient(text_losses.l2_normalize(sentence))


def load_encoder_params(workdir: str, encoder: FrozenEncoder) -> dict:
  """The encoder run's latest parameters in `workdir`, as numpy arrays."""
  from aigc_jax.train import checkpoint, loop, sharding, task as task_lib
  config = configlib.config_from_workdir(workdir)
  family, opts = task_lib.parse_config(config)
  if opts.tokenizer.vocab != encoder.tokenizer.vocab or opts.model != encoder.model:
    raise UserError(f"the text encoder in {workdir!r} is not the one this run was configured with "
                    f"(its vocabulary or model differ from config.text_encoder)")
  ckpt = checkpoint.open_for_reading(workdir)
  try:
    state = ckpt.restore(loop.abstract_state(family, opts, sharding.make_mesh()))
  finally:
    ckpt.close()
  return jax.tree.map(np.asarray, state.params)


def init_state(opts: Text2ImgOptions, key) -> Text2ImgState:
  """A fresh state: new G and D, the encoder run's parameters.

  The encoder's parameters come in through a host callback, which runs only when the
  initialisation is computed: the abstract state of a resume or of `aigc sample`
  (`jax.eval_shape`) never reads the encoder's workdir, so a trained run does not
  need it any more.
  """
  g, d = build_models(opts)
  g_tx, d_tx = adversarial.adam_pair(opts.optimizer)
  kg, kd, ke = jax.random.split(key, 3)
  r, c, k = opts.data.resolution, opts.data.channels, opts.text_encoder.model.embed_dim
  y = jnp.zeros((1, k))
  g_vars = g.init(kg, jnp.zeros((1, opts.model.latent_dim)), y, train=False)
  d_vars = d.init(kd, jnp.zeros((1, r, r, c)), y, train=False)
  fe = opts.text_encoder
  shapes = jax.eval_shape(lambda k: text_encoder.init_params(fe.model, fe.tokenizer, opts.data, k), ke)
  encoder = jax.pure_callback(
      lambda: load_encoder_params(opts.text_encoder_workdir, fe), shapes)
  return Text2ImgState(
      step=jnp.zeros((), jnp.int32),
      g_params=g_vars["params"], g_batch_stats=g_vars["batch_stats"],
      d_params=d_vars["params"], d_batch_stats=d_vars.get("batch_stats", {}),
      g_opt_state=g_tx.init(g_vars["params"]), d_opt_state=d_tx.init(d_vars["params"]),
      g_ema_params=jax.tree.map(jnp.copy, g_vars["params"]) if opts.adversarial.ema_decay else {},
      encoder=encoder)


def make_train_step(opts: Text2ImgOptions):
  """Returns `train_step(state, batch, key) -> (state, metrics)`, pure and jit-able."""
  g, d = build_models(opts)
  g_tx, d_tx = adversarial.adam_pair(opts.optimizer)
  adv = opts.adversarial
  loss = losses.get_loss(adv.loss)
  latent_dim = opts.model.latent_dim

  def g_apply(params, batch_stats, z, y):
    fake, mut = g.apply({"params": params, "batch_stats": batch_stats}, z, y, train=True,
                        mutable=["batch_stats"])
    return fake, mut["batch_stats"]

  def train_step(state: Text2ImgState, batch, key):
    k_z = key
    k_critic, k_d = jax.random.split(keys.step_substream(key, "options"))
    real = batch["image"]
    y = condition(opts, state.encoder, batch["tokens"])
    y_other = jnp.roll(y, 1, axis=0)  # Another example's caption: the mismatched pairs.

    def d_apply(params, batch_stats, x):
      """Real images [B, H, W, C] -> logits [B, 1] with their captions; pairs [B, 2, H, W, C]
      (generated, real) -> [B, 2] with (their caption, another caption)."""
      variables = {"params": params, "batch_stats": batch_stats}
      if x.ndim == 4:
        logits, mut = d.apply(variables, x, y, train=True, mutable=["batch_stats"])
        return logits[:, None], mut.get("batch_stats", {})
      b = x.shape[0]
      logits, mut = d.apply(variables, jnp.concatenate([x[:, 0], x[:, 1]]), jnp.concatenate([y, y_other]),
                            train=True, mutable=["batch_stats"])
      return jnp.stack([logits[:b], logits[b:]], axis=1), mut.get("batch_stats", {})
    critic = adversarial.Critic(d_apply, d_tx)

    def pairs(fake):
      return jnp.stack([fake, real], axis=1)

    def generate(params):
      z = jax.random.normal(k_z, (real.shape[0], latent_dim), real.dtype)
      fake, batch_stats = g_apply(params, state.g_batch_stats, z, y)
      return pairs(fake), batch_stats

    def fresh_fakes(k):
      z = jax.random.normal(k, (real.shape[0], latent_dim), real.dtype)
      return pairs(g_apply(state.g_params, state.g_batch_stats, z, y)[0])

    def g_loss(fake_pairs, d_params, d_batch_stats):
      logits, _ = d_apply(d_params, d_batch_stats, fake_pairs[:, 0])
      return jnp.mean(loss.g_loss(logits)), None

    return adversarial.gan_state_update(
        state, generate=generate, g_tx=g_tx, critic=critic, opts=adv, real=real, g_loss=g_loss,
        key=(k_critic, k_d), fresh_fakes=fresh_fakes)
  return train_step


def train_batches(opts: Text2ImgOptions, start_step: int):
  split = captions.load_split(opts.data.config, "train")
  tok = opts.text_encoder.tokenizer
  return captions.train_batches(split, tok.tokenizer, tok.max_len, batch_size=opts.run.batch_size,
                                seed=opts.run.seed, start_step=start_step)


# ------------------------------------------------------------------------ the generator

@functools.lru_cache(maxsize=8)
def _generator_program(opts: Text2ImgOptions):
  g, _ = build_models(opts)

  def program(variables, encoder, z, tokens):
    return g.apply(variables, z, condition(opts, encoder, tokens), train=False)
  return jax.jit(program)


def sampling_variables(opts: Text2ImgOptions, state: Text2ImgState) -> dict:
  """The generator's variables for sampling: the EMA weights when the run keeps them."""
  params = state.g_ema_params if opts.adversarial.ema_decay else state.g_params
  return {"params": params, "batch_stats": state.g_batch_stats}


def generate(opts: Text2ImgOptions, state: Text2ImgState, z, tokens, chunk: int = 256) -> np.ndarray:
  """Latents [N, latent_dim] and caption ids int32 [N, L] -> uint8 images [N, R, R, C]."""
  program = functools.partial(_generator_program(opts), sampling_variables(opts, state), state.encoder)
  return pipeline.to_uint8(chunked.chunked_apply(program, np.asarray(z), np.asarray(tokens), chunk=chunk))


def sample_grid(opts: Text2ImgOptions, state: Text2ImgState):
  """A row per grid prompt (`text_encoder.grid_prompts`: one per digit on digits), the
  same fixed latent vector down each column."""
  n = opts.run.num_grid_samples
  split = captions.load_split(opts.data.config, "test")
  prompts = text_encoder.grid_prompts(split, max(1, min(10, int(np.sqrt(n)))))
  ncols = max(1, n // len(prompts))
  tok = opts.text_encoder.tokenizer
  tokens = np.repeat(tok.tokenizer.encode_batch(prompts, tok.max_len), ncols, axis=0)
  z = jnp.tile(jax.random.normal(keys.stream_key(opts.run.seed, "grid"), (ncols, opts.model.latent_dim)),
               (len(prompts), 1))
  return generate(opts, state, z, tokens), ncols


TASK = Task(parse=parse, init_state=init_state, make_train_step=make_train_step,
            train_batches=train_batches, sample_grid=sample_grid)
