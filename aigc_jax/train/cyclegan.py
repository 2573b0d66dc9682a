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

With `compute_dtype` "bfloat16" the four networks compute in bf16; parameters,
optimizer states, pools, images and losses stay float32 (`aigc_jax.train.precision`).

The random crop and flip of the training images happen here, with the step's key (see
`aigc_jax.data.cyclegan_data`). The state is one pytree: parameters, optimiser states
and the two pools, so the whole step is one jitted, donated, sharded function and a
resumed run continues exactly.
"""

import functools
from typing import NamedTuple

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax

from aigc_jax.data import cyclegan_data, pipeline
from aigc_jax.errors import UserError
from aigc_jax.models import cyclegan as models
from aigc_jax.train import image_pool, precision
from aigc_jax.train.task import Task

# Key streams derived from config.seed with fold_in (the loop uses 1 for its steps).
_INIT_STREAM = 0
# Translation directions, which are also the generators' names: name -> (from, to) domain.
DIRECTIONS = {"AtoB": ("A", "B"), "BtoA": ("B", "A")}
# The generator needs H and W divisible by 4 and at least 8 (see ResnetGenerator).
_MULTIPLE, _MIN_SIZE = 4, 8


@flax.struct.dataclass
class CycleGANState:
  step: jax.Array
  g_params: dict  # {"AtoB": ..., "BtoA": ...}
  d_params: dict  # {"A": D_A, judges domain A images; "B": D_B, judges domain B}
  g_opt_state: optax.OptState  # One Adam over both generators, as the release.
  d_opt_state: optax.OptState  # One Adam over both discriminators.
  pool_a: image_pool.PoolState  # Earlier fakes of domain A (from G_BtoA), for D_A.
  pool_b: image_pool.PoolState  # Earlier fakes of domain B (from G_AtoB), for D_B.


class LossWeights(NamedTuple):
  lambda_a: float = 10.0  # Cycle A -> B -> A.
  lambda_b: float = 10.0  # Cycle B -> A -> B.
  lambda_identity: float = 0.5  # Identity terms, relative to the cycle weights.


def loss_weights(config) -> LossWeights:
  return LossWeights(**{k: float(config.loss.get(k, v)) for k, v in LossWeights._field_defaults.items()})


# ------------------------------------------------------------------------ building

def build_models(config):
  """(generator, discriminator) modules from `config.model`; each is used twice."""
  m = config.model
  if m.n_blocks < 0 or m.ngf < 1 or m.ndf < 1 or m.n_layers_d < 1:
    raise UserError("model.ngf, model.ndf and model.n_layers_d must be positive and model.n_blocks >= 0")
  dtype = precision.compute_dtype(config)
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


def config_schedule(config) -> optax.Schedule:
  o = config.optimizer
  return lr_schedule(o.lr, config.n_epochs * config.steps_per_epoch,
                     config.n_epochs_decay * config.steps_per_epoch)


def build_optimizer(config):
  """The Adam of each pair of networks (the generators, the discriminators)."""
  return optax.adam(config_schedule(config), b1=config.optimizer.b1, b2=config.optimizer.b2)


def _init_key(key):
  """An "rbg" key derived from `key`, for the weight initialisers.

  Each initialiser is one random draw, and on a CPU XLA takes seconds to compile each
  threefry draw (JAX's default generator): the four networks' ~50 draws would take a
  minute to compile, with rbg a few seconds. The distributions are the same; the values
  are deterministic for a seed on a given backend (they may differ between CPU and GPU).
  """
  return jax.random.key(jax.random.bits(key, (), jnp.uint32), impl="rbg")


def init_state(config, key) -> CycleGANState:
  """Fresh networks (sized for `crop_size` RGB images), optimiser states and empty pools."""
  if config.pool_size < 0:
    raise UserError(f"pool_size must be 0 (no pool) or more, got {config.pool_size}")
  g, d = build_models(config)
  tx = build_optimizer(config)
  size = config.data.crop_size
  x = jnp.zeros((1, size, size, 3))
  keys = jax.random.split(_init_key(jax.random.fold_in(key, _INIT_STREAM)), 4)
  g_params = {"AtoB": g.init(keys[0], x)["params"], "BtoA": g.init(keys[1], x)["params"]}
  d_params = {"A": d.init(keys[2], x)["params"], "B": d.init(keys[3], x)["params"]}
  pool = image_pool.init(config.pool_size, (size, size, 3))
  return CycleGANState(
      step=jnp.zeros((), jnp.int32), g_params=g_params, d_params=d_params,
      g_opt_state=tx.init(g_params), d_opt_state=tx.init(d_params), pool_a=pool,
      pool_b=jax.tree.map(jnp.copy, pool))


# ------------------------------------------------------------------------ losses

def _per_example_mean(x):
  return jnp.mean(x.reshape(x.shape[0], -1), axis=1)


def lsgan_d_loss(real_scores, fake_scores):
  """Patch scores [B, h, w, 1] -> [B]: (mean (real - 1)^2 + mean fake^2) / 2."""
  return 0.5 * (_per_example_mean(jnp.square(real_scores - 1.0)) + _per_example_mean(jnp.square(fake_scores)))


def lsgan_g_loss(fake_scores):
  """Patch scores [B, h, w, 1] -> [B]: mean (fake - 1)^2 (the release's weight, no 1/2)."""
  return _per_example_mean(jnp.square(fake_scores - 1.0))


def l1(x, y):
  """Images [B, H, W, C] -> [B]: the mean absolute difference of each pair."""
  return _per_example_mean(jnp.abs(x - y))


# ------------------------------------------------------------------------ the step

def make_train_step(config):
  """Returns `train_step(state, batch, key) -> (state, metrics)`, pure and jit-able.

  `batch` is {"A": float32 [b, L, L, 3], "B": ...} at load size; metrics are scalars.
  """
  g, d = build_models(config)
  tx = build_optimizer(config)
  schedule = config_schedule(config)
  w = loss_weights(config)
  crop, flip = config.data.crop_size, config.data.flip

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
        "g_adv_a": lsgan_g_loss(disc(d_params["A"], fake_a)),
        "g_adv_b": lsgan_g_loss(disc(d_params["B"], fake_b)),
        "cycle_a": l1(rec_a, real_a),
        "cycle_b": l1(rec_b, real_b),
    }
    total = terms["g_adv_a"] + terms["g_adv_b"] + w.lambda_a * terms["cycle_a"] + w.lambda_b * terms["cycle_b"]
    if w.lambda_identity:
      # G_BtoA should leave A images as they are, G_AtoB B images.
      terms["idt_a"], terms["idt_b"] = l1(idt_a, real_a), l1(idt_b, real_b)
      total += w.lambda_identity * (w.lambda_a * terms["idt_a"] + w.lambda_b * terms["idt_b"])
    terms = {k: jnp.mean(v) for k, v in terms.items()}
    return jnp.mean(total), (fake_a, fake_b, terms)

  def d_loss_fn(d_params, real_a, real_b, fake_a, fake_b):
    def one(params, real, fake):
      # Instance norm treats examples independently, so one pass over reals and fakes
      # together computes exactly what two passes would.
      scores = disc(params, jnp.concatenate([real, fake]))
      return lsgan_d_loss(scores[:real.shape[0]], scores[real.shape[0]:])
    terms = {"d_a": jnp.mean(one(d_params["A"], real_a, fake_a)),
             "d_b": jnp.mean(one(d_params["B"], real_b, fake_b))}
    return terms["d_a"] + terms["d_b"], terms

  def train_step(state: CycleGANState, batch, key):
    k_a, k_b, k_pool_a, k_pool_b = jax.random.split(key, 4)
    real_a = cyclegan_data.augment(k_a, batch["A"], crop, flip)
    real_b = cyclegan_data.augment(k_b, batch["B"], crop, flip)

    (g_loss, (fake_a, fake_b, g_terms)), g_grads = jax.value_and_grad(g_loss_fn, has_aux=True)(
        state.g_params, state.d_params, real_a, real_b)
    g_updates, g_opt_state = tx.update(g_grads, state.g_opt_state, state.g_params)
    g_params = optax.apply_updates(state.g_params, g_updates)

    pool_a, fake_a = image_pool.query(state.pool_a, jax.lax.stop_gradient(fake_a), k_pool_a)
    pool_b, fake_b = image_pool.query(state.pool_b, jax.lax.stop_gradient(fake_b), k_pool_b)
    d_grads, d_terms = jax.grad(d_loss_fn, has_aux=True)(state.d_params, real_a, real_b, fake_a, fake_b)
    d_updates, d_opt_state = tx.update(d_grads, state.d_opt_state, state.d_params)
    d_params = optax.apply_updates(state.d_params, d_updates)

    new_state = state.replace(step=state.step + 1, g_params=g_params, d_params=d_params,
                              g_opt_state=g_opt_state, d_opt_state=d_opt_state,
                              pool_a=pool_a, pool_b=pool_b)
    return new_state, {"g_loss": g_loss, **g_terms, **d_terms, "lr": schedule(state.step)}
  return train_step


def train_batches(config, start_step: int):
  return cyclegan_data.train_batches(config, start_step)


# ------------------------------------------------------------------------ translation

@functools.partial(jax.jit, static_argnums=(0,))
def _generate(g, params, x):
  return g.apply({"params": params}, x)


def translate_batch(config, state, images, direction: str = "AtoB"):
  """float32 [N, H, W, 3] in [-1, 1] -> the translation, same shape (H, W multiples of 4)."""
  if direction not in DIRECTIONS:
    raise UserError(f"unknown direction {direction!r}; choose one of {', '.join(DIRECTIONS)}")
  g, _ = build_models(config)
  return _generate(g, state.g_params[direction], jnp.asarray(images, jnp.float32))


def translate(config, state, image: np.ndarray, direction: str = "AtoB") -> np.ndarray:
  """One uint8 image [H, W, 3] (any size of at least 8x8) -> its translation, uint8 [H, W, 3].

  The generator needs sides that are multiples of 4: the image is padded by reflection
  at the bottom and right up to the next multiple and the output cropped back.
  """
  image = np.asarray(image)
  if image.ndim != 3 or image.shape[-1] != 3:
    raise UserError(f"translate needs an RGB image [H, W, 3], got shape {image.shape}")
  h, w = image.shape[:2]
  if min(h, w) < _MIN_SIZE:
    raise UserError(f"image is {h}x{w}; CycleGAN needs at least {_MIN_SIZE}x{_MIN_SIZE} pixels")
  pad = ((0, -h % _MULTIPLE), (0, -w % _MULTIPLE), (0, 0))
  x = pipeline.to_model_range(np.pad(image, pad, mode="reflect"))[None]
  return pipeline.to_uint8(translate_batch(config, state, x, direction)[0, :h, :w])


def _cycle(config, state, images, direction: str):
  """float32 test images [N, S, S, 3] -> (translated, reconstructed), both float32."""
  back = "BtoA" if direction == "AtoB" else "AtoB"
  fake = translate_batch(config, state, images, direction)
  return fake, translate_batch(config, state, fake, back)


def sample_grid(config, state):
  """Six rows from the same test images at every step: real A, fake B, reconstructed A,
  real B, fake A, reconstructed B; one column per image (`num_grid_samples` of them)."""
  n = config.get("num_grid_samples", 8)
  real = {domain: cyclegan_data.test_images(config.data, domain, n) for domain in cyclegan_data.DOMAINS}
  ncols = min(len(images) for images in real.values())  # So that the rows line up.
  rows = []
  for direction, (source, _) in DIRECTIONS.items():
    x = pipeline.to_model_range(real[source][:ncols])
    fake, rec = _cycle(config, state, x, direction)
    rows += [x, np.asarray(fake), np.asarray(rec)]
  return pipeline.to_uint8(np.concatenate(rows)), ncols


def generate(config, state, key, num, **options):
  del state, key, num, options
  raise UserError("a CycleGAN translates images instead of sampling them: use "
                  "`aigc translate --workdir DIR --input IMAGE_OR_FOLDER --out OUT [--direction BtoA]`")


# ------------------------------------------------------------------------ evaluation

def cycle_errors(config, state, num: int | None = None, batch_size: int = 16):
  """Mean L1 (in [-1, 1] units) of A -> B -> A and B -> A -> B over the test images.

  Returns ({"A": error, "B": error}, {"A": uint8 translations of test A (fake B images),
  "B": those of test B}); at most `num` test images per domain (all if None).
  """
  errors, fakes = {}, {}
  for direction, (source, _) in DIRECTIONS.items():
    images = cyclegan_data.test_images(config.data, source, num)
    total, outs = 0.0, []
    for i in range(0, len(images), batch_size):
      real = pipeline.to_model_range(images[i:i + batch_size])
      fake, rec = _cycle(config, state, real, direction)
      total += float(jnp.sum(jnp.abs(rec - real)))
      outs.append(pipeline.to_uint8(fake))
    errors[source] = total / images.size
    fakes[source] = np.concatenate(outs)
  return errors, fakes


def evaluate(config, state, options: dict) -> dict:
  """`cycle_error` (the mean of `cycle_error_a`, A -> B -> A, and `cycle_error_b`) on the
  test split, and with `--metrics fid` the FID of translated test A against test B."""
  requested = options.get("metrics") or []
  if set(requested) - {"fid"}:
    raise UserError("a CycleGAN run reports cycle_error, and fid with --metrics fid; "
                    f"not {', '.join(sorted(set(requested) - {'fid'}))}")
  errors, fakes = cycle_errors(config, state, options.get("num_samples"))
  result = {"step": int(state.step), "num_test_a": len(fakes["A"]), "num_test_b": len(fakes["B"]),
            "cycle_error_a": errors["A"], "cycle_error_b": errors["B"],
            "cycle_error": (errors["A"] + errors["B"]) / 2}
  if "fid" in requested:
    from aigc_jax import metrics
    ref = options.get("ref")
    ref_images = None if ref else cyclegan_data.test_images(config.data, "B")
    result["fid"] = metrics.images_metrics(
        fakes["A"], metrics=("fid",), weights_path=options.get("inception_weights"),
        ref_path=ref, ref_images=ref_images)["fid"]
  return result


TASK = Task(init_state=init_state, make_train_step=make_train_step, train_batches=train_batches,
            sample_grid=sample_grid, generate=generate, evaluate=evaluate)
