"""GAN training: state, the pure train step, sampling and evaluation.

One step is one discriminator update followed by one generator update on the same latent
batch, as in the reference DCGAN: the generator runs forward once, the discriminator is
updated on real and (stopped-gradient) fake images, and the generator's gradient comes
from the updated discriminator's logits on those fakes, pulled back through the saved
forward pass (`jax.vjp`), so each step does the work of the PyTorch reference and no more.
"""

import functools

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from aigc_jax import losses
from aigc_jax.data import augment, pipeline
from aigc_jax.models import dcgan
from aigc_jax.train.task import Task

# Key streams derived from config.seed with fold_in, so each use is independent.
_INIT_STREAM, _GRID_STREAM = 0, 2


@flax.struct.dataclass
class GANState:
  step: jax.Array
  g_params: dict
  g_batch_stats: dict
  d_params: dict
  d_batch_stats: dict
  g_opt_state: optax.OptState
  d_opt_state: optax.OptState


def build_models(config):
  """(generator, discriminator) Flax modules from `config.model` and `config.data`."""
  m, d = config.model, config.data
  if m.name != "dcgan":
    from aigc_jax.errors import UserError
    raise UserError(f"unknown GAN model {m.name!r}; choose one of dcgan")
  g = dcgan.Generator(resolution=d.resolution, channels=d.channels, base_features=m.g_features)
  disc = dcgan.Discriminator(resolution=d.resolution, base_features=m.d_features)
  return g, disc


def build_optimizers(config):
  o = config.optimizer
  g_tx = optax.adam(o.g_lr, b1=o.b1, b2=o.b2)
  d_tx = optax.adam(o.d_lr, b1=o.b1, b2=o.b2)
  return g_tx, d_tx


def init_state(config, key) -> GANState:
  g, d = build_models(config)
  g_tx, d_tx = build_optimizers(config)
  kg, kd = jax.random.split(jax.random.fold_in(key, _INIT_STREAM))
  r, c = config.data.resolution, config.data.channels
  g_vars = g.init(kg, jnp.zeros((1, config.model.latent_dim)), train=False)
  d_vars = d.init(kd, jnp.zeros((1, r, r, c)), train=False)
  return GANState(
      step=jnp.zeros((), jnp.int32),
      g_params=g_vars["params"], g_batch_stats=g_vars["batch_stats"],
      d_params=d_vars["params"], d_batch_stats=d_vars.get("batch_stats", {}),
      g_opt_state=g_tx.init(g_vars["params"]), d_opt_state=d_tx.init(d_vars["params"]))


def make_train_step(config):
  """Returns `train_step(state, batch, key) -> (state, metrics)`, pure and jit-able."""
  g, d = build_models(config)
  g_tx, d_tx = build_optimizers(config)
  loss = losses.get_loss(config.loss)
  aug = config.get("augment", None)
  latent_dim = config.model.latent_dim

  def d_apply(params, batch_stats, x):
    return d.apply({"params": params, "batch_stats": batch_stats}, x, train=True, mutable=["batch_stats"])

  def train_step(state: GANState, batch, key):
    k_z, k_aug = jax.random.split(key)
    real = batch["image"]
    if aug is not None and (aug.flip or aug.max_shift or aug.max_degrees):
      real = augment.augment(k_aug, real, flip=aug.flip, max_shift=aug.max_shift, max_degrees=aug.max_degrees)
    z = jax.random.normal(k_z, (real.shape[0], latent_dim), real.dtype)

    def generate(g_params):
      fake, mut = g.apply({"params": g_params, "batch_stats": state.g_batch_stats}, z, train=True,
                          mutable=["batch_stats"])
      return fake, mut["batch_stats"]
    fake, g_pullback, g_batch_stats = jax.vjp(generate, state.g_params, has_aux=True)

    def d_loss_fn(d_params):
      real_logits, mut = d_apply(d_params, state.d_batch_stats, real)
      fake_logits, mut = d_apply(d_params, mut["batch_stats"], jax.lax.stop_gradient(fake))
      return jnp.mean(loss.d_loss(real_logits, fake_logits)), (mut["batch_stats"], real_logits, fake_logits)
    (d_loss, (d_batch_stats, real_logits, fake_logits)), d_grads = jax.value_and_grad(
        d_loss_fn, has_aux=True)(state.d_params)
    d_updates, d_opt_state = d_tx.update(d_grads, state.d_opt_state, state.d_params)
    d_params = optax.apply_updates(state.d_params, d_updates)

    def g_loss_fn(fake):
      # The discriminator's running statistics from this pass are not kept: as in the
      # reference, only its own update moves them.
      logits, _ = d_apply(d_params, d_batch_stats, fake)
      return jnp.mean(loss.g_loss(logits))
    g_loss, dfake = jax.value_and_grad(g_loss_fn)(fake)
    (g_grads,) = g_pullback(dfake)
    g_updates, g_opt_state = g_tx.update(g_grads, state.g_opt_state, state.g_params)
    g_params = optax.apply_updates(state.g_params, g_updates)

    new_state = state.replace(
        step=state.step + 1, g_params=g_params, g_batch_stats=g_batch_stats, d_params=d_params,
        d_batch_stats=d_batch_stats, g_opt_state=g_opt_state, d_opt_state=d_opt_state)
    metrics = {
        "d_loss": d_loss, "g_loss": g_loss,
        "d_real": jnp.mean(jax.nn.sigmoid(real_logits)), "d_fake": jnp.mean(jax.nn.sigmoid(fake_logits)),
    }
    return new_state, metrics
  return train_step


def train_batches(config, start_step: int):
  return pipeline.train_batches(config.data, batch_size=config.batch_size, seed=config.seed,
                                start_step=start_step)


@functools.partial(jax.jit, static_argnums=(0,))
def _generate_jit(g, variables, z):
  return g.apply(variables, z, train=False)


def generate_from_latents(config, state: GANState, z) -> np.ndarray:
  """Latents [N, latent_dim] -> uint8 images [N, R, R, C], the generator in eval mode."""
  g, _ = build_models(config)
  variables = {"params": state.g_params, "batch_stats": state.g_batch_stats}
  chunk = 256
  out = [np.asarray(_generate_jit(g, variables, z[i:i + chunk])) for i in range(0, z.shape[0], chunk)]
  return pipeline.to_uint8(np.concatenate(out))


def generate(config, state, key, num: int, **options) -> np.ndarray:
  if options.get("labels") is not None or options.get("attributes") is not None:
    from aigc_jax.errors import UserError
    raise UserError("this run's model is unconditional; --labels/--attributes need a conditional GAN")
  z = jax.random.normal(key, (num, config.model.latent_dim))
  return generate_from_latents(config, state, z)


def sample_grid(config, state):
  """A grid from the same fixed latents at every step, so grids compare across steps."""
  n = config.get("num_grid_samples", 64)
  z = jax.random.normal(jax.random.fold_in(jax.random.key(config.seed), _GRID_STREAM), (n, config.model.latent_dim))
  return generate_from_latents(config, state, z), int(np.ceil(np.sqrt(n)))


def evaluate(config, state, options: dict) -> dict:
  from aigc_jax.evaluation import run_eval
  num = options.get("num_samples") or 2000
  key = jax.random.fold_in(jax.random.key(options.get("seed", 0)), 12345)
  images = generate(config, state, key, num)
  return run_eval.generator_metrics(config, images, {**options, "step": int(state.step)})


TASK = Task(init_state=init_state, make_train_step=make_train_step, train_batches=train_batches,
            sample_grid=sample_grid, generate=generate, evaluate=evaluate)
