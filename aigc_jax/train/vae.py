"""VAE training: the options, the state, the pure train step, the jitted programs that
decode and score, and the sample grids (`aigc_jax.inference.vae` samples, reconstructs
and interpolates with a trained run; `aigc_jax.evaluation.vae` reports its bounds).

The objective of one step is the beta-weighted negative ELBO, averaged over the batch:

  loss = mean_b[ -log p(x_b | z_b) + beta * KL(q(z | x_b) || N(0, I)) ],  z_b ~ q(z | x_b)

with one reparameterised sample per image and the KL in closed form. Logged metrics are
`loss`, `nelbo` (the same with beta = 1: the true bound), `recon` (-log p(x | z)) and
`kl`, all in nats per image under the config's pixel model (`aigc_jax.losses.likelihood`).
With `compute_dtype` "bfloat16" the networks compute in bf16 while the parameters, the
optimizer state and the bound's terms stay float32 (`aigc_jax.train.precision`).

Displayed images (grids, `aigc sample`, reconstructions) are the decoder's *mean* for a
latent, not a draw from the pixel distribution: per-pixel noise would only add grain.
"""

import dataclasses
import functools
import inspect
import math
from typing import Callable, NamedTuple

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax

from aigc_jax import losses, options as options_lib
from aigc_jax.data import pipeline
from aigc_jax.errors import UserError
from aigc_jax.losses import LikelihoodOptions
from aigc_jax.models import vae as vae_models
from aigc_jax.options import inline, one_of, require
from aigc_jax.train import chunked, keys, precision
from aigc_jax.train.task import ImageData, RunOptions, Task


@flax.struct.dataclass
class VAEState:
  step: jax.Array
  params: dict
  opt_state: optax.OptState


# ------------------------------------------------------------------------ options

# Keyword arguments every model factory gets from elsewhere than `config.model`.
_GIVEN = ("resolution", "channels", "latent_dim", "num_params", "dtype")


@dataclasses.dataclass(frozen=True)
class VAEModel:
  """`config.model`: the model's name, latent size and classes; `architecture` holds the
  other keys, the named factory's own keyword arguments (`features`, `hidden`, ...)."""
  name: str
  latent_dim: int
  num_classes: int  # 0: unconditional; K: conditioned on the dataset's K labels.
  architecture: tuple = options_lib.rest()

  def check(self):
    one_of(self.name, vae_models.MODELS, "model.name")
    require(self.latent_dim >= 1, f"model.latent_dim must be at least 1, got {self.latent_dim}")
    require(self.num_classes >= 0, f"model.num_classes must be >= 0, got {self.num_classes}")
    accepted = set(inspect.signature(vae_models.MODELS[self.name]).parameters) - set(_GIVEN)
    for key, value in self.architecture:
      require(key in accepted, f"model.{key} is not an option of the {self.name!r} VAE; "
                               f"it takes {', '.join(sorted(accepted))}")
      sizes = value if isinstance(value, tuple) else (value,) if isinstance(value, int) else ()
      require(all(isinstance(v, int) and v >= 1 for v in sizes),
              f"model.{key} must be positive sizes, got {value!r}")


@dataclasses.dataclass(frozen=True)
class VAEOptimizer:
  """`config.optimizer`: Adam, with global-norm clipping when `grad_clip` > 0."""
  lr: float
  b1: float
  b2: float
  grad_clip: float

  def check(self):
    require(self.lr > 0, f"optimizer.lr must be > 0, got {self.lr}")
    require(self.grad_clip >= 0, f"optimizer.grad_clip must be >= 0 (0: off), got {self.grad_clip}")


@dataclasses.dataclass(frozen=True)
class VAEEval:
  """`config.eval`: what `aigc eval` computes by default."""
  split: str
  batch_size: int
  iwae_samples: int
  iwae_chunk: int
  num_samples: int

  def check(self):
    for name in ("batch_size", "iwae_samples", "iwae_chunk", "num_samples"):
      require(getattr(self, name) >= 1, f"eval.{name} must be at least 1, got {getattr(self, name)}")


@dataclasses.dataclass(frozen=True)
class VAEOptions:
  run: RunOptions = inline()
  data: ImageData
  model: VAEModel
  likelihood: LikelihoodOptions
  beta: float
  optimizer: VAEOptimizer
  eval: VAEEval

  def check(self):
    require(self.beta >= 0, f"beta must be >= 0, got {self.beta}")


def parse(config) -> VAEOptions:
  return options_lib.parse(VAEOptions, config)


# ------------------------------------------------------------------------ building

def build_model(opts: VAEOptions) -> vae_models.VAE:
  """The Flax module named by `model.name`, sized for the data."""
  return vae_models.MODELS[opts.model.name](
      resolution=opts.data.resolution, channels=opts.data.channels, latent_dim=opts.model.latent_dim,
      num_params=losses.get_likelihood(opts.likelihood).num_params,
      dtype=precision.compute_dtype(opts.run.compute_dtype), **dict(opts.model.architecture))


def build_optimizer(opts: VAEOptions):
  o = opts.optimizer
  adam = optax.adam(o.lr, b1=o.b1, b2=o.b2)
  return optax.chain(optax.clip_by_global_norm(o.grad_clip), adam) if o.grad_clip else adam


def condition(opts: VAEOptions, labels):
  """int labels [B] -> one-hot float32 [B, K] for a conditional VAE; None otherwise."""
  k = opts.model.num_classes
  return None if k == 0 or labels is None else jax.nn.one_hot(labels, k, dtype=jnp.float32)


def init_state(opts: VAEOptions, key) -> VAEState:
  model = build_model(opts)
  r, c, d, k = opts.data.resolution, opts.data.channels, opts.model.latent_dim, opts.model.num_classes
  cond = jnp.zeros((1, k)) if k else None
  params = model.init(key, jnp.zeros((1, r, r, c)), jnp.zeros((1, d)), cond)["params"]
  return VAEState(step=jnp.zeros((), jnp.int32), params=params, opt_state=build_optimizer(opts).init(params))


# ------------------------------------------------------------------------ bounds

def elbo_terms(model, likelihood, params, x, cond, key):
  """One-sample ELBO terms of a batch: (recon [B], kl [B]) in nats.

  recon = -log p(x | z) with z ~ q(z | x) reparameterised from `key`; kl is exact.
  x is float [B, R, R, C] in [-1, 1] as the pipeline gives it.
  """
  inputs, targets = likelihood.prepare(x)
  mean, logvar = model.apply({"params": params}, inputs, cond, method="encode")
  eps = jax.random.normal(key, mean.shape, mean.dtype)
  pixel_params = model.apply({"params": params}, losses.reparameterize(eps, mean, logvar), cond,
                             method="decode")
  return -likelihood.log_prob(pixel_params, targets), losses.gaussian_kl(mean, logvar)


def iwae_log_likelihood(model, likelihood, params, x, cond, key, num_samples: int, chunk: int = 16):
  """The K-sample importance-weighted lower bound on log p(x): float [B] nats.

  The K = `num_samples` latents per image are decoded `chunk` at a time (sequentially,
  with `lax.map`), so memory grows with chunk * B images, not K * B. Only the log
  weights [K, B] are kept. Chunks past K are drawn and discarded.
  """
  inputs, targets = likelihood.prepare(x)
  mean, logvar = model.apply({"params": params}, inputs, cond, method="encode")
  b = x.shape[0]
  chunk = max(1, min(chunk, num_samples))
  num_chunks = -(-num_samples // chunk)

  def tile(a):
    return None if a is None else jnp.broadcast_to(a[None], (chunk, *a.shape)).reshape(chunk * b, *a.shape[1:])

  def log_weights(i):
    eps = jax.random.normal(jax.random.fold_in(key, i), (chunk, *mean.shape), mean.dtype)
    z = losses.reparameterize(eps, mean, logvar)  # [chunk, B, D]
    pixel_params = model.apply({"params": params}, z.reshape(chunk * b, -1), tile(cond), method="decode")
    log_px = likelihood.log_prob(pixel_params, tile(targets)).reshape(chunk, b)
    log_pz = losses.gaussian_log_density(z)
    log_qz = losses.gaussian_log_density(z, mean, logvar)
    return log_px + log_pz - log_qz

  weights = jax.lax.map(log_weights, jnp.arange(num_chunks)).reshape(num_chunks * chunk, b)
  return losses.iwae_log_likelihood(weights[:num_samples])


# ------------------------------------------------------------------------ training

def make_train_step(opts: VAEOptions):
  """Returns `train_step(state, batch, key) -> (state, metrics)`, pure and jit-able."""
  model, likelihood, tx = build_model(opts), losses.get_likelihood(opts.likelihood), build_optimizer(opts)
  beta = opts.beta

  def train_step(state: VAEState, batch, key):
    cond = condition(opts, batch.get("label"))

    def loss_fn(params):
      recon, kl = elbo_terms(model, likelihood, params, batch["image"], cond, key)
      return jnp.mean(losses.negative_elbo(-recon, kl, beta)), (recon, kl)
    (loss, (recon, kl)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    new_state = state.replace(step=state.step + 1, params=optax.apply_updates(state.params, updates),
                              opt_state=opt_state)
    metrics = {"loss": loss, "nelbo": jnp.mean(recon + kl), "recon": jnp.mean(recon), "kl": jnp.mean(kl)}
    return new_state, metrics
  return train_step


def train_batches(opts: VAEOptions, start_step: int):
  if opts.model.num_classes and not pipeline.dataset_info(opts.data.config).label_names:
    raise UserError(f"a conditional VAE needs labels, and dataset {opts.data.name!r} has none; "
                    f"set --config.model.num_classes=0")
  return pipeline.train_batches(opts.data.config, batch_size=opts.run.batch_size, seed=opts.run.seed,
                                start_step=start_step)


# ------------------------------------------------------------------------ programs

class Programs(NamedTuple):
  """The jitted functions of one run's options, compiled once and reused."""
  decode_mean: Callable     # (params, z, labels) -> float [N, R, R, C] in [-1, 1]
  reconstruct: Callable     # (params, x, labels) -> float [N, R, R, C] in [-1, 1]
  elbo: Callable            # (params, x, labels, key) -> (recon [B], kl [B])
  iwae: Callable            # (params, x, labels, key, num_samples static) -> log p bound [B]


@functools.lru_cache(maxsize=8)
def programs(opts: VAEOptions) -> Programs:
  """The jitted programs for a run's model and pixel model, cached on its (hashable)
  options: the loop calls `sample_grid` every `sample_every` steps, and fresh closures
  would be fresh jit functions, compiled again each time."""
  model, likelihood = build_model(opts), losses.get_likelihood(opts.likelihood)
  cond = functools.partial(condition, opts)

  @jax.jit
  def decode_mean(params, z, labels):
    return likelihood.mean_image(model.apply({"params": params}, z, cond(labels), method="decode"))

  @jax.jit
  def reconstruct(params, x, labels):
    inputs, _ = likelihood.prepare(x)
    mean, _ = model.apply({"params": params}, inputs, cond(labels), method="encode")
    return decode_mean(params, mean, labels)

  @jax.jit
  def elbo(params, x, labels, key):
    return elbo_terms(model, likelihood, params, x, cond(labels), key)

  @functools.partial(jax.jit, static_argnums=(4,))
  def iwae(params, x, labels, key, num_samples):
    return iwae_log_likelihood(model, likelihood, params, x, cond(labels), key, num_samples,
                               chunk=opts.eval.iwae_chunk)
  return Programs(decode_mean, reconstruct, elbo, iwae)


def decode_latents(opts: VAEOptions, state: VAEState, z, labels=None) -> np.ndarray:
  """Latents float [N, latent_dim] (+ class ids [N]) -> uint8 decoder means [N, R, R, C]."""
  fn = functools.partial(programs(opts).decode_mean, state.params)
  return pipeline.to_uint8(chunked.chunked_apply(fn, np.asarray(z), labels, chunk=256))


def reconstruct(opts: VAEOptions, state, images_uint8: np.ndarray, labels=None) -> np.ndarray:
  """uint8 [N, R, R, C] at the model's size -> uint8 reconstructions [N, R, R, C].

  The reconstruction decodes the posterior mean, so it is deterministic. `labels`
  (class ids [N]) are needed for a conditional VAE.
  """
  if opts.model.num_classes and labels is None:
    raise UserError("this run's VAE is conditional: give the inputs' labels (--labels)")
  x = pipeline.to_model_range(np.asarray(images_uint8))
  fn = functools.partial(programs(opts).reconstruct, state.params)
  return pipeline.to_uint8(chunked.chunked_apply(fn, x, labels, chunk=256))


@functools.lru_cache(maxsize=4)
def _fixed_images(data_json: str, split: str, count: int):
  """The first `count` images (and labels) of a split, for reconstruction grids."""
  import json
  import ml_collections
  data = ml_collections.ConfigDict(json.loads(data_json))
  ds = pipeline.make_dataset(data, split, batch_size=count, train=False, process_index=0, process_count=1)
  batch = ds[0]
  return batch["image"], batch.get("label")


def sample_grid(opts: VAEOptions, state):
  """One grid: prior samples from fixed latents, then (input row, reconstruction row) pairs.

  With C = ceil(sqrt(num_grid_samples)) columns and R rows, the last 2 * max(1, R // 4)
  rows (when R >= 3) are pairs: a row of fixed test images above its reconstructions.
  A conditional VAE's sample column j is class j mod K. The latents and test images are
  the same at every step, so grids compare across steps.
  """
  n = opts.run.num_grid_samples
  ncols = int(math.ceil(math.sqrt(n)))
  nrows = int(math.ceil(n / ncols))
  pairs = max(1, nrows // 4) if nrows >= 3 else 0
  num_samples = (nrows - 2 * pairs) * ncols
  z = jax.random.normal(keys.stream_key(opts.run.seed, "grid"), (num_samples, opts.model.latent_dim))
  k = opts.model.num_classes
  ids = np.arange(num_samples, dtype=np.int32) % ncols % k if k else None
  rows = [decode_latents(opts, state, z, ids)]
  if pairs:
    x, labels = _fixed_images(opts.data.config.to_json(), opts.eval.split, pairs * ncols)
    originals = pipeline.to_uint8(x)
    recons = reconstruct(opts, state, originals, labels if k else None)
    for p in range(pairs):
      rows += [originals[p * ncols:(p + 1) * ncols], recons[p * ncols:(p + 1) * ncols]]
  return np.concatenate(rows), ncols


TASK = Task(parse=parse, init_state=init_state, make_train_step=make_train_step,
            train_batches=train_batches, sample_grid=sample_grid)
