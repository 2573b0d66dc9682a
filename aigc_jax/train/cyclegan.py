"""CycleGAN training (Zhu et al., 2017): the state, the pure train step, grids, translation, eval.

Two generators, G_AtoB and G_BtoA, and two discriminators, D_A (real A images against
G_BtoA's fakes) and D_B (real B against G_AtoB's fakes). One step is the release's
`optimize_parameters`:

1. Generators (both, one Adam over their joint parameters), with the discriminators
   fixed, minimise
     LSGAN(D_B(G_AtoB(a)), 1) + LSGAN(D_A(G_BtoA(b)), 1)                 adversarial
     + lambda_a |G_BtoA(G_AtoB(a)) - a| + lambda_b |G_AtoB(G_BtoA(b)) - b|  cycle
     + lambda_identity (lambda_a |G_BtoA(a) - a| + lambda_b |G_AtoB(b) - b|)  identity
   (means over pixels; LSGAN(s, t) is the mean of (s - t)^2 over the patch scores).
2. The fakes of step 1 (before the update, no gradient) go through the image pools
   (`image_pool`, 50 each); each discriminator then minimises
     (LSGAN(D(real), 1) + LSGAN(D(pooled fake), 0)) / 2.

Both optimisers are Adam(b1 = 0.5) with the release's learning rate policy: constant
for `n_epochs` epochs, then linear decay to zero over `n_epochs_decay` epochs
(`lr_schedule`; here the decay moves every step rather than once per epoch).
`steps_per_epoch` sets the length of an epoch in steps; `num_steps` is by default the
whole schedule, `(n_epochs + n_epochs_decay) * steps_per_epoch`.

`aigc_jax.inference.cyclegan` translates a user's images with a trained run and
`aigc_jax.evaluation.cyclegan` measures its cycle error (and FID).

With `compute_dtype` "bfloat16" the four networks compute in bf16; parameters,
optimizer states, pools, images and losses stay float32 (`aigc_jax.train.precision`).

The random crop and flip of the training images happen here, with the step's key (see
`aigc_jax.data.cyclegan_data`). The state is one pytree: parameters, optimiser states
and the two pools, so the whole step is one jitted, donated, sharded function and a
resumed run continues exactly.
"""

import dataclasses
import functools

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from aigc_jax import losses, options as options_lib
from aigc_jax.data import cyclegan_data, pipeline
from aigc_jax.models import cyclegan as models
from aigc_jax.options import inline, require
from aigc_jax.train import adversarial, chunked, image_pool, precision
from aigc_jax.train.task import RunOptions, Task

# Translation directions, which are also the generators' names: name -> (from, to) domain.
DIRECTIONS = {"AtoB": ("A", "B"), "BtoA": ("B", "A")}
# The generator needs H and W divisible by 4 and at least 8 (see ResnetGenerator).
MULTIPLE, MIN_SIZE = 4, 8


@flax.struct.dataclass
class CycleGANState:
  step: jax.Array
  g_params: dict  # {"AtoB": ..., "BtoA": ...}
  d_params: dict  # {"A": D_A, judges domain A images; "B": D_B, judges domain B}
  g_opt_state: optax.OptState  # One Adam over both generators, as the release.
  d_opt_state: optax.OptState  # One Adam over both discriminators.
  pool_a: image_pool.PoolState  # Earlier fakes of domain A (from G_BtoA), for D_A.
  pool_b: image_pool.PoolState  # Earlier fakes of domain B (from G_AtoB), for D_B.


@dataclasses.dataclass(frozen=True)
class LossWeights:
  """`config.loss`: the weights of the cycle and identity terms."""
  lambda_a: float  # Cycle A -> B -> A.
  lambda_b: float  # Cycle B -> A -> B.
  lambda_identity: float  # Identity terms, relative to the cycle weights.

  def check(self):
    require(min(self.lambda_a, self.lambda_b, self.lambda_identity) >= 0, f"loss weights must be >= 0, got {self}")


@dataclasses.dataclass(frozen=True)
class CycleGANModel:
  """`config.model`: generator width and residual blocks, discriminator width and layers."""
  ngf: int
  ndf: int
  n_blocks: int
  n_layers_d: int

  def check(self):
    require(self.n_blocks >= 0 and min(self.ngf, self.ndf, self.n_layers_d) >= 1,
            "model.ngf, model.ndf and model.n_layers_d must be positive and model.n_blocks >= 0")


@dataclasses.dataclass(frozen=True)
class CycleGANData:
  """The keys of `config.data` the step uses (the data layer reads the rest)."""
  load_size: int
  crop_size: int
  flip: bool

  def check(self):
    require(MIN_SIZE <= self.crop_size <= self.load_size and self.crop_size % MULTIPLE == 0,
            f"data.crop_size must be a multiple of {MULTIPLE}, at least {MIN_SIZE} and at most "
            f"data.load_size, got {self.crop_size} and {self.load_size}")


@dataclasses.dataclass(frozen=True)
class CycleGANOptions:
  run: RunOptions = inline()
  data: CycleGANData
  model: CycleGANModel
  loss: LossWeights
  pool_size: int
  n_epochs: int
  n_epochs_decay: int
  steps_per_epoch: int
  optimizer: adversarial.Adam
  config: ml_collections.ConfigDict = options_lib.section()  # For the data layer.

  def check(self):
    require(self.pool_size >= 0, f"pool_size must be 0 (no pool) or more, got {self.pool_size}")
    require(min(self.n_epochs, self.n_epochs_decay) >= 0 and self.steps_per_epoch >= 1,
            "n_epochs and n_epochs_decay must be >= 0 and steps_per_epoch >= 1")


def parse(config) -> CycleGANOptions:
  return options_lib.parse(CycleGANOptions, config)


# ------------------------------------------------------------------------ building

def build_models(opts: CycleGANOptions):
  """(generator, discriminator) modules; each is used twice."""
  m = opts.model
  dtype = precision.compute_dtype(opts.run.compute_dtype)
  return (models.ResnetGenerator(ngf=m.ngf, n_blocks=m.n_blocks, dtype=dtype),
          models.PatchDiscriminator(ndf=m.ndf, n_layers=m.n_layers_d, dtype=dtype))


def lr_schedule(lr: float, constant_steps: int, decay_steps: int) -> optax.Schedule:
  """`lr` for steps [0, constant_steps], then linear to 0 at constant_steps + decay_steps.

  Stays at 0 afterwards; with `decay_steps` 0 the rate is constant.
  """
  if decay_steps <= 0:
    return optax.constant_schedule(lr)
  return optax.join_schedules(
      [optax.constant_schedule(lr), optax.linear_schedule(lr, 0.0, decay_steps)], [constant_steps])


def config_schedule(opts: CycleGANOptions) -> optax.Schedule:
  return lr_schedule(opts.optimizer.lr, opts.n_epochs * opts.steps_per_epoch,
                     opts.n_epochs_decay * opts.steps_per_epoch)


def build_optimizer(opts: CycleGANOptions):
  """The Adam of each pair of networks (the generators, the discriminators)."""
  return optax.adam(config_schedule(opts), b1=opts.optimizer.b1, b2=opts.optimizer.b2)


def _init_key(key):
  """An "rbg" key derived from `key`, for the weight initialisers.

  Each initialiser is one random draw, and on a CPU XLA takes seconds to compile each
  threefry draw (JAX's default generator): the four networks' ~50 draws would take a
  minute to compile, with rbg a few seconds. The distributions are the same; the values
  are deterministic for a seed on a given backend (they may differ between CPU and GPU).
  """
  return jax.random.key(jax.random.bits(key, (), jnp.uint32), impl="rbg")


def init_state(opts: CycleGANOptions, key) -> CycleGANState:
  """Fresh networks (sized for `crop_size` RGB images), optimiser states and empty pools."""
  g, d = build_models(opts)
  tx = build_optimizer(opts)
  size = opts.data.crop_size
  x = jnp.zeros((1, size, size, 3))
  keys_ = jax.random.split(_init_key(key), 4)
  g_params = {"AtoB": g.init(keys_[0], x)["params"], "BtoA": g.init(keys_[1], x)["params"]}
  d_params = {"A": d.init(keys_[2], x)["params"], "B": d.init(keys_[3], x)["params"]}
  pool = image_pool.init(opts.pool_size, (size, size, 3))
  return CycleGANState(
      step=jnp.zeros((), jnp.int32), g_params=g_params, d_params=d_params,
      g_opt_state=tx.init(g_params), d_opt_state=tx.init(d_params), pool_a=pool,
      pool_b=jax.tree.map(jnp.copy, pool))


# ------------------------------------------------------------------------ the step

def make_train_step(opts: CycleGANOptions):
  """Returns `train_step(state, batch, key) -> (state, metrics)`, pure and jit-able.

  `batch` is {"A": float32 [b, L, L, 3], "B": ...} at load size; metrics are scalars.
  """
  g, d = build_models(opts)
  tx = build_optimizer(opts)
  schedule = config_schedule(opts)
  w = opts.loss
  crop, flip = opts.data.crop_size, opts.data.flip

  gen = lambda params, x: g.apply({"params": params}, x)
  disc = lambda params, x: d.apply({"params": params}, x)

  def second_pass(params, fake, real):
    """(reconstruction of `real` from `fake`, identity mapping of `real` or None).

    Both are the same generator's work, so they run as one batch: instance norm sees
    each image alone, so one pass over both computes exactly what two would (and
    compiles and runs faster).
    """
    if not w.lambda_identity:
      return gen(params, fake), None
    out = gen(params, jnp.concatenate([fake, real]))
    return out[:fake.shape[0]], out[fake.shape[0]:]

  def g_loss_fn(g_params, d_params, real_a, real_b):
    fake_b = gen(g_params["AtoB"], real_a)
    fake_a = gen(g_params["BtoA"], real_b)
    rec_a, idt_a = second_pass(g_params["BtoA"], fake_b, real_a)
    rec_b, idt_b = second_pass(g_params["AtoB"], fake_a, real_b)
    terms = {
        "g_adv_a": losses.lsgan_patch_g_loss(disc(d_params["A"], fake_a)),
        "g_adv_b": losses.lsgan_patch_g_loss(disc(d_params["B"], fake_b)),
        "cycle_a": losses.l1(rec_a, real_a),
        "cycle_b": losses.l1(rec_b, real_b),
    }
    total = terms["g_adv_a"] + terms["g_adv_b"] + w.lambda_a * terms["cycle_a"] + w.lambda_b * terms["cycle_b"]
    if w.lambda_identity:
      # G_BtoA should leave A images as they are, G_AtoB B images.
      terms["idt_a"], terms["idt_b"] = losses.l1(idt_a, real_a), losses.l1(idt_b, real_b)
      total += w.lambda_identity * (w.lambda_a * terms["idt_a"] + w.lambda_b * terms["idt_b"])
    terms = {k: jnp.mean(v) for k, v in terms.items()}
    return jnp.mean(total), (fake_a, fake_b, terms)

  def d_loss_fn(d_params, real_a, real_b, fake_a, fake_b):
    def one(params, real, fake):
      # Instance norm treats examples independently, so one pass over reals and fakes
      # together computes exactly what two passes would.
      scores = disc(params, jnp.concatenate([real, fake]))
      return losses.lsgan_patch_d_loss(scores[:real.shape[0]], scores[real.shape[0]:])
    terms = {"d_a": jnp.mean(one(d_params["A"], real_a, fake_a)),
             "d_b": jnp.mean(one(d_params["B"], real_b, fake_b))}
    return terms["d_a"] + terms["d_b"], terms

  def train_step(state: CycleGANState, batch, key):
    k_a, k_b, k_pool_a, k_pool_b = jax.random.split(key, 4)
    real_a = cyclegan_data.augment(k_a, batch["A"], crop, flip)
    real_b = cyclegan_data.augment(k_b, batch["B"], crop, flip)

    (g_loss, (fake_a, fake_b, g_terms)), g_grads = jax.value_and_grad(g_loss_fn, has_aux=True)(
        state.g_params, state.d_params, real_a, real_b)
    g_params, g_opt_state = adversarial.apply_gradients(tx, state.g_params, state.g_opt_state, g_grads)

    pool_a, fake_a = image_pool.query(state.pool_a, jax.lax.stop_gradient(fake_a), k_pool_a)
    pool_b, fake_b = image_pool.query(state.pool_b, jax.lax.stop_gradient(fake_b), k_pool_b)
    d_grads, d_terms = jax.grad(d_loss_fn, has_aux=True)(state.d_params, real_a, real_b, fake_a, fake_b)
    d_params, d_opt_state = adversarial.apply_gradients(tx, state.d_params, state.d_opt_state, d_grads)

    new_state = state.replace(step=state.step + 1, g_params=g_params, d_params=d_params,
                              g_opt_state=g_opt_state, d_opt_state=d_opt_state,
                              pool_a=pool_a, pool_b=pool_b)
    return new_state, {"g_loss": g_loss, **g_terms, **d_terms, "lr": schedule(state.step)}
  return train_step


def train_batches(opts: CycleGANOptions, start_step: int):
  return cyclegan_data.train_batches(opts.config, start_step)


# ------------------------------------------------------------------------ translation

@functools.lru_cache(maxsize=8)
def _generator_program(opts: CycleGANOptions):
  g, _ = build_models(opts)
  return jax.jit(lambda params, x: g.apply({"params": params}, x))


def translate_batch(opts: CycleGANOptions, state, images, direction: str = "AtoB", chunk: int = 16) -> np.ndarray:
  """float32 [N, H, W, 3] in [-1, 1] -> the translation, same shape (H, W multiples of 4)."""
  program = functools.partial(_generator_program(opts), state.g_params[direction])
  return chunked.chunked_apply(program, np.asarray(images, np.float32), chunk=chunk)


def cycle(opts: CycleGANOptions, state, images, direction: str):
  """float32 images [N, S, S, 3] -> (translated, reconstructed), both float32 numpy."""
  back = "BtoA" if direction == "AtoB" else "AtoB"
  fake = translate_batch(opts, state, images, direction)
  return fake, translate_batch(opts, state, fake, back)


def sample_grid(opts: CycleGANOptions, state):
  """Six rows from the same test images at every step: real A, fake B, reconstructed A,
  real B, fake A, reconstructed B; one column per image (`num_grid_samples` of them)."""
  n = opts.run.num_grid_samples
  real = {domain: cyclegan_data.test_images(opts.config.data, domain, n) for domain in cyclegan_data.DOMAINS}
  ncols = min(len(images) for images in real.values())  # So that the rows line up.
  rows = []
  for direction, (source, _) in DIRECTIONS.items():
    x = pipeline.to_model_range(real[source][:ncols])
    fake, rec = cycle(opts, state, x, direction)
    rows += [x, fake, rec]
  return pipeline.to_uint8(np.concatenate(rows)), ncols


TASK = Task(parse=parse, init_state=init_state, make_train_step=make_train_step,
            train_batches=train_batches, sample_grid=sample_grid)
