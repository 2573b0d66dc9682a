"""Diffusion training (EDM, Karras et al., 2022): the options, the state, the pure train
step, the jitted sampler and the sample grids (`aigc_jax.inference.diffusion` samples
with a trained run; `aigc_jax.evaluation.diffusion` scores it).

The denoiser is D(y, sigma) = c_skip y + c_out F(c_in y, c_noise, label) with F the
U-Net of `aigc_jax.models.diffusion` and EDM's preconditioning (`aigc_jax.train.edm`),
or, with `edm.objective` "flow", rectified flow's (F the velocity; the same network and
samplers). One step draws ln(sigma) ~ N(P_mean, P_std^2) per image and minimises

  loss = mean_b[ lambda(sigma_b) * mean_pixels (D(x_b + sigma_b n_b, sigma_b) - x_b)^2 ]

with Adam (a linear learning-rate warm-up) and keeps an EMA of the weights, which is
what samples; its half-life grows with training (`ema_rampup` of the steps so far, EDM's
ramp-up) up to `ema_decay`'s, so it never holds on to the random initial weights. A
class-conditional run replaces each label by the null class with probability
`edm.label_dropout`, so the same network is also the unconditional model that
classifier-free guidance needs. Logged: `loss`.

Sampling integrates the probability-flow ODE with EDM's Heun (or Euler) sampler from
sigma_max to 0 (`config.sampler`: steps, schedule, churn, guidance), jitted once per
(steps, guidance, method), sharded over the devices and run in chunks of one shape.
Each sample's randomness comes from its own key, so a sample is the same whatever the
chunk size or number of devices.
"""

import dataclasses
import functools
import inspect
from typing import Callable

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax

from aigc_jax import options as options_lib
from aigc_jax.data import pipeline
from aigc_jax.errors import UserError
from aigc_jax.models import diffusion as diffusion_models
from aigc_jax.options import inline, one_of, require
from aigc_jax.train import adversarial, chunked, edm, keys, precision, sharding
from aigc_jax.train.task import ImageData, RunOptions, Task


@flax.struct.dataclass
class DiffusionState:
  step: jax.Array
  params: dict
  ema_params: dict  # The moving average of params: what samples.
  opt_state: optax.OptState


# ------------------------------------------------------------------------ options

_GIVEN = ("resolution", "channels", "num_classes", "dtype")


@dataclasses.dataclass(frozen=True)
class DiffusionModel:
  """`config.model`: the number of classes (0: unconditional) and the U-Net's own keyword
  arguments (`base_channels`, `channel_mult`, ...; `aigc_jax.models.diffusion.UNet`)."""
  num_classes: int
  architecture: tuple = options_lib.rest()

  def check(self):
    require(self.num_classes >= 0, f"model.num_classes must be >= 0, got {self.num_classes}")
    accepted = set(inspect.signature(diffusion_models.UNet).parameters) - set(_GIVEN) - {"parent", "name"}
    for key, value in self.architecture:
      require(key in accepted, f"model.{key} is not an option of the diffusion U-Net; "
                               f"it takes {', '.join(sorted(accepted))}")
    arch = dict(self.architecture)
    if "noise_embedding" in arch:
      one_of(arch["noise_embedding"], diffusion_models.NOISE_EMBEDDINGS, "model.noise_embedding")
    for key in ("base_channels", "num_res_blocks", "num_groups"):
      if key in arch:
        require(isinstance(arch[key], int) and arch[key] >= 1, f"model.{key} must be a positive int")
    if "channel_mult" in arch:
      require(len(arch["channel_mult"]) >= 1 and all(isinstance(m, int) and m >= 1 for m in arch["channel_mult"]),
              f"model.channel_mult must be positive ints, got {arch['channel_mult']!r}")


@dataclasses.dataclass(frozen=True)
class EDMOptions:
  """`config.edm`: the training objective ("edm" or "flow", `aigc_jax.train.edm`), the
  training distribution of noise levels and the label dropout."""
  objective: str
  sigma_data: float
  p_mean: float
  p_std: float
  label_dropout: float

  def check(self):
    one_of(self.objective, edm.OBJECTIVES, "edm.objective")
    require(self.sigma_data > 0, f"edm.sigma_data must be > 0, got {self.sigma_data}")
    require(self.p_std > 0, f"edm.p_std must be > 0, got {self.p_std}")
    require(0 <= self.label_dropout < 1, f"edm.label_dropout must be in [0, 1), got {self.label_dropout}")


@dataclasses.dataclass(frozen=True)
class SamplerOptions:
  """`config.sampler`: how grids, `aigc sample` and `aigc eval` sample by default."""
  method: str
  steps: int
  sigma_min: float
  sigma_max: float
  rho: float
  s_churn: float
  s_tmin: float
  s_tmax: float
  s_noise: float
  guidance: float
  chunk: int

  def check(self):
    one_of(self.method, ("heun", "euler"), "sampler.method")
    require(self.steps >= 1, f"sampler.steps must be at least 1, got {self.steps}")
    require(0 < self.sigma_min < self.sigma_max, "sampler needs 0 < sigma_min < sigma_max")
    require(self.rho > 0, f"sampler.rho must be > 0, got {self.rho}")
    require(self.s_churn >= 0, f"sampler.s_churn must be >= 0, got {self.s_churn}")
    require(0 <= self.s_tmin <= self.s_tmax,
            f"sampler needs 0 <= s_tmin <= s_tmax (the churned levels), got {self.s_tmin} and {self.s_tmax}")
    require(self.s_noise > 0, f"sampler.s_noise must be > 0, got {self.s_noise}")
    require(self.guidance >= 0, f"sampler.guidance must be >= 0, got {self.guidance}")
    require(self.chunk >= 1, f"sampler.chunk must be at least 1, got {self.chunk}")


@dataclasses.dataclass(frozen=True)
class DiffusionOptimizer:
  """`config.optimizer`: Adam, a linear warm-up over `warmup_steps`, optional clipping."""
  lr: float
  b1: float
  b2: float
  warmup_steps: int
  grad_clip: float

  def check(self):
    require(self.lr > 0, f"optimizer.lr must be > 0, got {self.lr}")
    require(self.warmup_steps >= 0, f"optimizer.warmup_steps must be >= 0, got {self.warmup_steps}")
    require(self.grad_clip >= 0, f"optimizer.grad_clip must be >= 0 (0: off), got {self.grad_clip}")


@dataclasses.dataclass(frozen=True)
class DiffusionEval:
  """`config.eval`: what `aigc eval` computes by default."""
  num_samples: int

  def check(self):
    require(self.num_samples >= 1, f"eval.num_samples must be at least 1, got {self.num_samples}")


@dataclasses.dataclass(frozen=True)
class DiffusionOptions:
  run: RunOptions = inline()
  data: ImageData
  model: DiffusionModel
  edm: EDMOptions
  sampler: SamplerOptions
  optimizer: DiffusionOptimizer
  ema_decay: float
  ema_rampup: float
  eval: DiffusionEval

  def check(self):
    require(0 <= self.ema_decay < 1, f"ema_decay must be in [0, 1), got {self.ema_decay}")
    require(0 <= self.ema_rampup <= 1, f"ema_rampup must be in [0, 1], got {self.ema_rampup}")
    levels = len(dict(self.model.architecture).get("channel_mult", (1, 2, 2)))
    factor = 2 ** (levels - 1)
    require(self.data.resolution % factor == 0,
            f"data.resolution {self.data.resolution} must be a multiple of {factor} for a U-Net of "
            f"{levels} levels (model.channel_mult)")


def parse(config) -> DiffusionOptions:
  return options_lib.parse(DiffusionOptions, config)


# ------------------------------------------------------------------------ building

def build_model(opts: DiffusionOptions) -> diffusion_models.UNet:
  """The U-Net sized for the data and classes, computing in `compute_dtype`."""
  return diffusion_models.UNet(resolution=opts.data.resolution, channels=opts.data.channels,
                               num_classes=opts.model.num_classes,
                               dtype=precision.compute_dtype(opts.run.compute_dtype),
                               **dict(opts.model.architecture))


def build_optimizer(opts: DiffusionOptions):
  o = opts.optimizer
  lr = optax.linear_schedule(0.0, o.lr, o.warmup_steps) if o.warmup_steps else o.lr
  adam = optax.adam(lr, b1=o.b1, b2=o.b2)
  return optax.chain(optax.clip_by_global_norm(o.grad_clip), adam) if o.grad_clip else adam


def init_state(opts: DiffusionOptions, key) -> DiffusionState:
  r, c = opts.data.resolution, opts.data.channels
  labels = jnp.zeros((1,), jnp.int32) if opts.model.num_classes else None
  params = build_model(opts).init(key, jnp.zeros((1, r, r, c)), jnp.zeros((1,)), labels)["params"]
  return DiffusionState(step=jnp.zeros((), jnp.int32), params=params,
                        ema_params=jax.tree.map(jnp.copy, params), opt_state=build_optimizer(opts).init(params))


def make_denoiser(model, params, sigma_data: float, *, objective: str = "edm", train: bool = False,
                  rng=None) -> Callable:
  """EDM's D(y, sigma, labels) -> float32 [B, R, R, C] from the U-Net F and its weights,
  with the preconditioning of `objective` (`edm.precondition`).

  y float [B, R, R, C], sigma float [B] > 0, labels int [B] (the null class K for "no
  label") or None for an unconditional net.
  """
  def denoise(y, sigma, labels=None):
    pc = edm.precondition(sigma, sigma_data, objective)
    expand = lambda a: a[:, None, None, None]
    rngs = {"dropout": rng} if rng is not None else None
    f = model.apply({"params": params}, expand(pc.c_in) * y, pc.c_noise, labels, train=train, rngs=rngs)
    return expand(pc.c_skip) * y + expand(pc.c_out) * f
  return denoise


# ------------------------------------------------------------------------ training

def make_train_step(opts: DiffusionOptions):
  """Returns `train_step(state, batch, key) -> (state, metrics)`, pure and jit-able."""
  model, tx, e = build_model(opts), build_optimizer(opts), opts.edm
  k = opts.model.num_classes

  def train_step(state: DiffusionState, batch, key):
    x = batch["image"]
    k_sigma, k_noise, k_drop, k_dropout = jax.random.split(key, 4)
    sigma = edm.sample_sigmas(k_sigma, x.shape[0], e.p_mean, e.p_std)
    noise = jax.random.normal(k_noise, x.shape, x.dtype)
    labels = None
    if k:
      drop = jax.random.bernoulli(k_drop, e.label_dropout, (x.shape[0],))
      labels = jnp.where(drop, k, batch["label"]).astype(jnp.int32)

    def loss_fn(params):
      denoise = make_denoiser(model, params, e.sigma_data, objective=e.objective, train=True, rng=k_dropout)
      return jnp.mean(edm.denoising_loss(lambda y, s: denoise(y, s, labels), x, sigma, noise, e.sigma_data,
                                         e.objective))
    loss, grads = jax.value_and_grad(loss_fn)(state.params)
    params, opt_state = adversarial.apply_gradients(tx, state.params, state.opt_state, grads)
    ema = adversarial.ema_update(state.ema_params, params, edm.ema_decay(state.step, opts.ema_decay, opts.ema_rampup))
    return state.replace(step=state.step + 1, params=params, ema_params=ema, opt_state=opt_state), {"loss": loss}
  return train_step


def train_batches(opts: DiffusionOptions, start_step: int):
  if opts.model.num_classes and not pipeline.dataset_info(opts.data.config).label_names:
    raise UserError(f"a class-conditional diffusion model needs labels, and dataset {opts.data.name!r} has "
                    f"none; set --config.model.num_classes=0 (or use the :uncond variant)")
  return pipeline.train_batches(opts.data.config, batch_size=opts.run.batch_size, seed=opts.run.seed,
                                start_step=start_step)


# ------------------------------------------------------------------------ sampling

def sampler_settings(opts: DiffusionOptions, steps=None, guidance=None, method=None):
  """(steps, guidance, method) of a sampling call: the given ones, else `config.sampler`'s;
  checked (UserError). An unconditional run samples with guidance None."""
  s = opts.sampler
  steps = s.steps if steps is None else int(steps)
  method = s.method if method is None else method
  if steps < 1:
    raise UserError(f"--steps must be at least 1, got {steps}")
  one_of(method, ("heun", "euler"), "sampler method")
  if not opts.model.num_classes:
    if guidance is not None:
      raise UserError("this run is unconditional; --guidance needs a class-conditional diffusion run")
    return steps, None, method
  guidance = s.guidance if guidance is None else float(guidance)
  if not guidance >= 0:
    raise UserError(f"--guidance must be >= 0 (1: plain conditional, 0: unconditional), got {guidance}")
  return steps, guidance, method


@functools.lru_cache(maxsize=16)
def sampling_program(opts: DiffusionOptions, steps: int, guidance, method: str, num_devices: int):
  """The jitted `fn(ema_params, key_data uint32 [N, 2], labels int [N] | None) -> float32
  [N, R, R, C]`: one sample per key, by the ODE (or churned) sampler; N a multiple of the
  devices, sharded over them. Cached on its (hashable) arguments, so a grid every
  `sample_every` steps compiles once."""
  s, model = opts.sampler, build_model(opts)
  sigmas = edm.karras_sigmas(steps, s.sigma_min, s.sigma_max, s.rho)
  churn = edm.Churn(s.s_churn, s.s_tmin, s.s_tmax, s.s_noise)
  shape = (opts.data.resolution, opts.data.resolution, opts.data.channels)
  k = opts.model.num_classes

  def fn(params, key_data, labels):
    sample_keys = jax.random.wrap_key_data(key_data)
    x = jax.vmap(lambda kk: jax.random.normal(kk, shape))(sample_keys) * sigmas[0]
    denoise = make_denoiser(model, params, opts.edm.sigma_data, objective=opts.edm.objective)
    if k:
      d = lambda y, sig: edm.guided(denoise, guidance, k)(y, sig, labels)
    else:
      d = lambda y, sig: denoise(y, sig)
    noise = lambda i: jax.vmap(lambda kk: jax.random.normal(jax.random.fold_in(kk, i + 1), shape))(sample_keys)
    return edm.solve(d, x, sigmas, method=method, churn=churn, noise=noise)

  mesh = sharding.make_mesh()
  rep, data = sharding.replicated(mesh), sharding.data_sharded(mesh)
  return jax.jit(fn, in_shardings=(rep, data, data), out_shardings=data)


def sample_keys(opts: DiffusionOptions, state: DiffusionState, key_data, labels=None, *, steps=None,
                guidance=None, method=None) -> np.ndarray:
  """Samples uint8 [N, R, R, C] from the EMA weights, one per key: `key_data` uint32
  [N, 2] (`jax.random.key_data` of N keys), `labels` int [N] class ids of a
  class-conditional run (ignored by an unconditional one). `steps`, `guidance`,
  `method` default to `config.sampler`'s. Runs in chunks of `sampler.chunk` (rounded up
  to a multiple of the devices, whatever N), each sharded over the devices."""
  steps, guidance, method = sampler_settings(opts, steps, guidance, method)
  labels = np.asarray(labels, np.int32) if opts.model.num_classes else None
  devices = jax.device_count()
  program = sampling_program(opts, steps, guidance, method, devices)
  x = chunked.chunked_apply(functools.partial(program, state.ema_params), np.asarray(key_data), labels,
                            chunk=opts.sampler.chunk, multiple=devices)
  return pipeline.to_uint8(np.clip(x, -1.0, 1.0))


def generate(opts: DiffusionOptions, state: DiffusionState, key, num: int, labels=None, **settings) -> np.ndarray:
  """`num` samples uint8 [num, R, R, C]: `key` split into one key per sample; `labels`
  int [num] for a class-conditional run (None: every class in turn); `settings`: steps,
  guidance, method (`sample_keys`)."""
  if opts.model.num_classes and labels is None:
    labels = np.arange(num, dtype=np.int32) % opts.model.num_classes
  return sample_keys(opts, state, jax.random.key_data(jax.random.split(key, num)), labels, **settings)


def sample_grid(opts: DiffusionOptions, state):
  """A grid from the same per-sample keys at every step (the "grid" stream), so grids
  compare across steps; a class-conditional run has one row per class (the same keys
  down each column), at the config's guidance."""
  n, k = opts.run.num_grid_samples, opts.model.num_classes
  key = keys.stream_key(opts.run.seed, "grid")
  if not k:
    return generate(opts, state, key, n), int(np.ceil(np.sqrt(n)))
  ncols = max(1, n // k)
  key_data = np.tile(np.asarray(jax.random.key_data(jax.random.split(key, ncols))), (k, 1))
  return sample_keys(opts, state, key_data, np.repeat(np.arange(k, dtype=np.int32), ncols)), ncols


TASK = Task(parse=parse, init_state=init_state, make_train_step=make_train_step,
            train_batches=train_batches, sample_grid=sample_grid)
