"""GAN training: the options, the state, the pure train step and the sample grids.

One step is the family kit's adversarial update (`aigc_jax.train.adversarial`): the
discriminator on real and fake images, then the generator through its saved forward
pass. What is the GAN's own:
- `model.conditioning`: "none", "class" (labels -> one-hot y) or "attributes" (multi-hot
  y). Fakes are generated with the real batch's conditions, so the discriminator sees
  the same condition distribution on both sides.
- `diffaugment`: a DiffAugment policy, applied to real and fake images (independent
  draws) before every discriminator call, the generator's update included.
- `augment`: flips, shifts and rotations of the real images before the discriminator.
- `ema_decay`: `g_ema_params`, an exponential moving average of the generator's weights,
  updated after every step; grids and `aigc_jax.inference` use it. Its BatchNorm uses the
  live generator's running statistics (as StyleGAN2 copies buffers).
- `compute_dtype`: "bfloat16" runs both networks in bf16 with float32 parameters,
  optimizer state, images and logits (`aigc_jax.train.precision`).
"""

import dataclasses
import functools

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax

from aigc_jax import losses, options as options_lib
from aigc_jax.data import augment, diffaugment, pipeline
from aigc_jax.errors import UserError
from aigc_jax.models import dcgan, layers
from aigc_jax.options import inline, one_of, require
from aigc_jax.train import adversarial, chunked, keys, precision
from aigc_jax.train.adversarial import AdamPair, AdversarialOptions
from aigc_jax.train.task import ImageData, RunOptions, Task


@flax.struct.dataclass
class GANState:
  step: jax.Array
  g_params: dict
  g_batch_stats: dict
  d_params: dict
  d_batch_stats: dict  # BatchNorm statistics and spectral norm's power-iteration vectors.
  g_opt_state: optax.OptState
  d_opt_state: optax.OptState
  g_ema_params: dict  # The moving average of g_params; {} when `ema_decay` is 0.


# Conditioning by name (`model.conditioning`): the model options -> size of y.
_COND_DIMS = {
    "none": lambda m: 0,
    "class": lambda m: m.num_classes,
    "attributes": lambda m: m.num_attributes,
}


@dataclasses.dataclass(frozen=True)
class GANModel:
  """`config.model` of a GAN (configs/dcgan_digits.py explains each key)."""
  name: str
  latent_dim: int
  g_features: int
  d_features: int
  conditioning: str
  num_classes: int
  num_attributes: int
  embed_dim: int
  g_cbn: bool
  d_conditioning: str
  d_norm: str
  d_spectral_norm: bool

  def check(self):
    one_of(self.name, ("dcgan",), "model.name")
    one_of(self.conditioning, _COND_DIMS, "model.conditioning")
    one_of(self.d_norm, layers.NORMS, "model.d_norm")
    one_of(self.d_conditioning, dcgan.D_CONDITIONING, "model.d_conditioning")
    for name in ("latent_dim", "g_features", "d_features", "embed_dim"):
      require(getattr(self, name) >= 1, f"model.{name} must be at least 1, got {getattr(self, name)}")
    require(self.cond_dim >= 1 or self.conditioning == "none",
            f"model.conditioning {self.conditioning!r} needs model.num_classes or model.num_attributes >= 1")

  @property
  def cond_dim(self) -> int:
    """The size of the condition y: 0 for an unconditional model."""
    return _COND_DIMS[self.conditioning](self)


@dataclasses.dataclass(frozen=True)
class Augment:
  """`config.augment`: augmentation of the real images (off in the seed's recipe)."""
  flip: bool
  max_shift: int
  max_degrees: float

  @property
  def enabled(self) -> bool:
    return bool(self.flip or self.max_shift or self.max_degrees)


def check_resolution(resolution: int) -> None:
  """The DCGAN's one constraint on `data.resolution` (4 * 2**k), as a one-line error at load."""
  try:
    dcgan.num_stages(resolution)
  except ValueError as e:
    raise UserError(f"data.resolution: {e}") from None


@dataclasses.dataclass(frozen=True)
class GANOptions:
  run: RunOptions = inline()
  adversarial: AdversarialOptions = inline()
  data: ImageData
  model: GANModel
  optimizer: AdamPair
  augment: Augment
  diffaugment: str

  def check(self):
    check_resolution(self.data.resolution)
    if self.adversarial.gp_weight and self.model.d_norm == "batch":
      raise UserError("a gradient penalty is per example and BatchNorm mixes examples; "
                                  "set --config.model.d_norm=layer (or none)")
    diffaugment.parse_policy(self.diffaugment)


def parse(config) -> GANOptions:
  return options_lib.parse(GANOptions, config)


def build_models(opts: GANOptions):
  """(generator, discriminator) Flax modules."""
  m, d = opts.model, opts.data
  dtype = precision.compute_dtype(opts.run.compute_dtype)
  g = dcgan.Generator(resolution=d.resolution, channels=d.channels, base_features=m.g_features,
                      cond_dim=m.cond_dim, embed_dim=m.embed_dim, cbn=m.g_cbn, dtype=dtype)
  disc = dcgan.Discriminator(resolution=d.resolution, base_features=m.d_features, norm=m.d_norm,
                             spectral_norm=m.d_spectral_norm, cond_dim=m.cond_dim,
                             conditioning=m.d_conditioning, dtype=dtype)
  return g, disc


def batch_condition(opts: GANOptions, batch):
  """The condition y [B, cond_dim] of a batch (one-hot label or attributes), or None."""
  kind = opts.model.conditioning
  if kind == "class":
    return jax.nn.one_hot(batch["label"], opts.model.cond_dim, dtype=batch["image"].dtype)
  if kind == "attributes":
    return batch["attributes"].astype(batch["image"].dtype)
  return None


def init_state(opts: GANOptions, key) -> GANState:
  g, d = build_models(opts)
  g_tx, d_tx = adversarial.adam_pair(opts.optimizer)
  kg, kd = jax.random.split(key)
  r, c, k = opts.data.resolution, opts.data.channels, opts.model.cond_dim
  y = jnp.zeros((1, k)) if k else None
  g_vars = g.init(kg, jnp.zeros((1, opts.model.latent_dim)), y, train=False)
  d_vars = d.init(kd, jnp.zeros((1, r, r, c)), y, train=False)
  return GANState(
      step=jnp.zeros((), jnp.int32),
      g_params=g_vars["params"], g_batch_stats=g_vars["batch_stats"],
      d_params=d_vars["params"], d_batch_stats=d_vars.get("batch_stats", {}),
      g_opt_state=g_tx.init(g_vars["params"]), d_opt_state=d_tx.init(d_vars["params"]),
      g_ema_params=jax.tree.map(jnp.copy, g_vars["params"]) if opts.adversarial.ema_decay else {})


def make_train_step(opts: GANOptions):
  """Returns `train_step(state, batch, key) -> (state, metrics)`, pure and jit-able."""
  g, d = build_models(opts)
  g_tx, d_tx = adversarial.adam_pair(opts.optimizer)
  adv = opts.adversarial
  loss = losses.get_loss(adv.loss)
  policy = diffaugment.parse_policy(opts.diffaugment)
  latent_dim = opts.model.latent_dim

  def g_apply(params, batch_stats, z, y):
    fake, mut = g.apply({"params": params, "batch_stats": batch_stats}, z, y, train=True,
                        mutable=["batch_stats"])
    return fake, mut["batch_stats"]

  def train_step(state: GANState, batch, key):
    k_z, k_aug = jax.random.split(key)
    # The options' keys come from their own sub-stream, so the default step's are unchanged.
    k_critic, k_d, k_g_aug = jax.random.split(keys.step_substream(key, "options"), 3)
    real = batch["image"]
    y = batch_condition(opts, batch)
    if opts.augment.enabled:
      a = opts.augment
      real = augment.augment(k_aug, real, flip=a.flip, max_shift=a.max_shift, max_degrees=a.max_degrees)

    def d_apply(params, batch_stats, x):
      logits, mut = d.apply({"params": params, "batch_stats": batch_stats}, x, y, train=True,
                            mutable=["batch_stats"])
      return logits, mut.get("batch_stats", {})
    critic = adversarial.Critic(d_apply, d_tx, lambda k, x: diffaugment.diff_augment(k, x, policy))

    def fresh_fakes(k):
      z = jax.random.normal(k, (real.shape[0], latent_dim), real.dtype)
      return g_apply(state.g_params, state.g_batch_stats, z, y)[0]  # Statistics not kept.

    def g_loss(fake, d_params, d_batch_stats):
      # The discriminator's statistics from this pass are not kept: as in the reference,
      # only its own update moves them.
      logits, _ = d_apply(d_params, d_batch_stats, diffaugment.diff_augment(k_g_aug, fake, policy))
      return jnp.mean(loss.g_loss(logits)), None

    z = jax.random.normal(k_z, (real.shape[0], latent_dim), real.dtype)
    return adversarial.gan_state_update(
        state, generate=lambda p: g_apply(p, state.g_batch_stats, z, y), g_tx=g_tx, critic=critic, opts=adv,
        real=real, g_loss=g_loss, key=(k_critic, k_d), fresh_fakes=fresh_fakes)
  return train_step


def train_batches(opts: GANOptions, start_step: int):
  return pipeline.train_batches(opts.data.config, batch_size=opts.run.batch_size, seed=opts.run.seed,
                                start_step=start_step)


# ------------------------------------------------------------------------ the generator

@functools.lru_cache(maxsize=8)
def _generator_program(opts: GANOptions):
  g, _ = build_models(opts)
  return jax.jit(lambda variables, z, y: g.apply(variables, z, y, train=False))


def sampling_variables(opts: GANOptions, state: GANState) -> dict:
  """The generator's variables for sampling: the EMA weights when the run keeps them."""
  params = state.g_ema_params if opts.adversarial.ema_decay else state.g_params
  return {"params": params, "batch_stats": state.g_batch_stats}


def generate_from_latents(opts: GANOptions, state: GANState, z, y=None, chunk: int = 256) -> np.ndarray:
  """Latents [N, latent_dim] (and conditions y [N, K]) -> uint8 images [N, R, R, C], eval mode."""
  program = functools.partial(_generator_program(opts), sampling_variables(opts, state))
  return pipeline.to_uint8(chunked.chunked_apply(program, np.asarray(z), None if y is None else np.asarray(y),
                                                 chunk=chunk))


def sample_grid(opts: GANOptions, state):
  """A grid from the same fixed latents at every step, so grids compare across steps.

  Conditional runs get one row per condition (each class; for attributes, the attribute
  vectors of the first training images) and the same latent vector down each column.
  """
  n = opts.run.num_grid_samples
  key = keys.stream_key(opts.run.seed, "grid")
  kind, k = opts.model.conditioning, opts.model.cond_dim
  if kind == "none":
    z = jax.random.normal(key, (n, opts.model.latent_dim))
    return generate_from_latents(opts, state, z), int(np.ceil(np.sqrt(n)))
  if kind == "class":
    rows = jax.nn.one_hot(np.arange(k), k)
  else:
    rows = jnp.asarray(pipeline.load_attributes(opts.data.config, "train", range(max(1, int(np.sqrt(n))))))
  ncols = max(1, n // rows.shape[0])
  z = jax.random.normal(key, (ncols, opts.model.latent_dim))
  z = jnp.tile(z, (rows.shape[0], 1))
  y = jnp.repeat(rows, ncols, axis=0)
  return generate_from_latents(opts, state, z, y), ncols


TASK = Task(parse=parse, init_state=init_state, make_train_step=make_train_step,
            train_batches=train_batches, sample_grid=sample_grid)
