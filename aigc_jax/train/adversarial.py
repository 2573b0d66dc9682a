"""The adversarial update every GAN-like family shares: the discriminator, then the generator.

One update, as in the reference DCGAN: the generator runs forward once; the
discriminator takes `n_critic` updates on real and (stopped-gradient) fake images, the
first `n_critic - 1` on fresh fakes of their own; then the generator's gradient comes
from the *updated* discriminator's loss on the saved fakes, pulled back through the
saved forward pass (`jax.vjp`), so a step does the work of the PyTorch reference and
no more. A family supplies how its networks are applied and what its losses are; the
options (`AdversarialOptions`: loss, critic steps, gradient penalty, R1, EMA decay) are
the same everywhere.

Shapes: images are float [B, H, W, C]; discriminator logits any [B, ...]; per-example
losses [B]; metrics are scalars.
"""

import dataclasses
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from aigc_jax import losses
from aigc_jax.options import one_of, require


@dataclasses.dataclass(frozen=True)
class AdversarialOptions:
  """The config keys of the adversarial update (top level of a GAN or restoration config)."""
  loss: str          # A name in `aigc_jax.losses.LOSSES`.
  n_critic: int      # Discriminator updates per generator update.
  gp_weight: float   # WGAN-GP's lambda on interpolates of real and fake.
  r1_gamma: float    # R1 on reals, times gamma / 2.
  ema_decay: float   # > 0 keeps an EMA of the generator's weights for sampling.

  def check(self):
    one_of(self.loss, losses.LOSSES, "loss")
    require(self.n_critic >= 1, f"n_critic must be at least 1, got {self.n_critic}")
    require(self.gp_weight >= 0 and self.r1_gamma >= 0,
            f"gp_weight and r1_gamma must be >= 0, got {self.gp_weight} and {self.r1_gamma}")
    require(0.0 <= self.ema_decay < 1.0, f"ema_decay must be in [0, 1), got {self.ema_decay}")


@dataclasses.dataclass(frozen=True)
class AdamPair:
  """`config.optimizer` of a two-network family: one Adam for G, one for D."""
  g_lr: float
  d_lr: float
  b1: float
  b2: float

  def check(self):
    require(self.g_lr > 0 and self.d_lr > 0, f"optimizer learning rates must be > 0, got {self.g_lr}, {self.d_lr}")
    require(0 <= self.b1 < 1 and 0 <= self.b2 < 1, f"optimizer b1 and b2 must be in [0, 1), got {self.b1}, {self.b2}")


@dataclasses.dataclass(frozen=True)
class Adam:
  """`config.optimizer` of a family with one learning rate (scheduled by the family)."""
  lr: float
  b1: float
  b2: float

  def check(self):
    require(self.lr > 0, f"optimizer.lr must be > 0, got {self.lr}")
    require(0 <= self.b1 < 1 and 0 <= self.b2 < 1, f"optimizer b1 and b2 must be in [0, 1), got {self.b1}, {self.b2}")


def adam_pair(o: AdamPair):
  """(generator optimizer, discriminator optimizer)."""
  return optax.adam(o.g_lr, b1=o.b1, b2=o.b2), optax.adam(o.d_lr, b1=o.b1, b2=o.b2)


def apply_gradients(tx, params, opt_state, grads):
  """One optimizer step: (new params, new optimizer state)."""
  updates, opt_state = tx.update(grads, opt_state, params)
  return optax.apply_updates(params, updates), opt_state


def ema_update(ema_params, params, decay: float):
  """`decay * ema + (1 - decay) * params`, leaf by leaf: the EMA moves a fraction
  `1 - decay` of the way toward the live weights each step."""
  return jax.tree.map(lambda e, p: decay * e + (1.0 - decay) * p, ema_params, params)


class Critic(NamedTuple):
  """The discriminator's side of a family.

  apply(params, collections, images) -> (logits, collections): one pass in training
    mode; `collections` is its mutable state (BatchNorm statistics, spectral norm's
    vectors; {} when it has none), threaded from pass to pass.
  tx: its optimizer. augment(key, images) -> images: DiffAugment or the identity.
  """
  apply: Callable
  tx: optax.GradientTransformation
  augment: Callable = lambda key, images: images


class DState(NamedTuple):
  params: dict
  collections: dict
  opt_state: optax.OptState


def discriminator_update(critic: Critic, opts: AdversarialOptions, d: DState, real, fake, key):
  """One discriminator update on real and (already stopped) fake images.

  Its loss is `opts.loss`'s per-example D loss plus the penalties, on augmented images
  (independent draws for real and fake). The penalties' extra passes do not move the
  collections. Returns (new DState, metrics: d_loss, d_real, d_fake and gp / r1).
  """
  loss = losses.get_loss(opts.loss)
  k_real, k_fake, k_gp = jax.random.split(key, 3)
  real_in = critic.augment(k_real, real)
  fake_in = critic.augment(k_fake, fake)

  def loss_fn(params):
    real_logits, collections = critic.apply(params, d.collections, real_in)
    fake_logits, collections = critic.apply(params, collections, fake_in)
    per_example = loss.d_loss(real_logits, fake_logits)
    score = lambda x: critic.apply(params, collections, x)[0]
    terms = {}
    if opts.gp_weight:
      terms["gp"] = losses.gradient_penalty(score, real_in, fake_in, k_gp)
      per_example = per_example + opts.gp_weight * terms["gp"]
    if opts.r1_gamma:
      terms["r1"] = losses.r1_penalty(score, real_in)
      per_example = per_example + 0.5 * opts.r1_gamma * terms["r1"]
    terms = {k: jnp.mean(v) for k, v in terms.items()}
    return jnp.mean(per_example), (collections, real_logits, fake_logits, terms)
  (d_loss, (collections, real_logits, fake_logits, terms)), grads = jax.value_and_grad(
      loss_fn, has_aux=True)(d.params)
  params, opt_state = apply_gradients(critic.tx, d.params, d.opt_state, grads)
  metrics = {"d_loss": d_loss, "d_real": jnp.mean(jax.nn.sigmoid(real_logits)),
             "d_fake": jnp.mean(jax.nn.sigmoid(fake_logits)), **terms}
  return DState(params, collections, opt_state), metrics


def update(*, generate: Callable, g_params, g_opt_state, g_tx, critic: Critic, d: DState,
           opts: AdversarialOptions, real, g_loss: Callable, key, fresh_fakes: Callable | None = None):
  """One adversarial update: `n_critic` discriminator updates, then one generator update.

  generate(g_params) -> (fakes, g_aux): the generator's forward pass (g_aux: its new
    BatchNorm statistics, or None).
  g_loss(fakes, d_params, d_collections) -> (loss, aux): the generator's loss on the
    differentiable fakes against the updated discriminator (its passes move nothing).
  fresh_fakes(key) -> fakes: new stopped fakes for the extra critic updates
    (needed when `opts.n_critic > 1`).
  key: split into the critic updates' keys, in the order the GAN family always used
    (the extra updates' keys from `key[0]`, the last update's from `key[1]`).

  Returns (g_params, g_opt_state, g_aux, d, d_metrics, g_loss value, g_loss aux).
  """
  k_critic, k_d = key
  if opts.n_critic > 1:
    def critic_step(d, k):
      k_z, k_d_i = jax.random.split(k)
      d, _ = discriminator_update(critic, opts, d, real, jax.lax.stop_gradient(fresh_fakes(k_z)), k_d_i)
      return d, None
    # Unrolled: XLA:CPU runs a rolled loop around convolution gradients far slower
    # (docs/benchmarks.md).
    d, _ = jax.lax.scan(critic_step, d, jax.random.split(k_critic, opts.n_critic - 1), unroll=True)
  fake, pullback, g_aux = jax.vjp(generate, g_params, has_aux=True)
  d, d_metrics = discriminator_update(critic, opts, d, real, jax.lax.stop_gradient(fake), k_d)
  (loss, aux), dfake = jax.value_and_grad(g_loss, has_aux=True)(fake, d.params, d.collections)
  (g_grads,) = pullback(dfake)
  g_params, g_opt_state = apply_gradients(g_tx, g_params, g_opt_state, g_grads)
  return g_params, g_opt_state, g_aux, d, d_metrics, loss, aux


def gan_state_update(state, *, generate: Callable, g_tx, critic: Critic, opts: AdversarialOptions, real,
                     g_loss: Callable, key, fresh_fakes: Callable | None = None):
  """`update` on a GAN-shaped train state, then the EMA of the generator's weights.

  `state` is a flax struct with the fields step, g_params, g_batch_stats, d_params,
  d_batch_stats (the critic's collections), g_opt_state, d_opt_state and g_ema_params
  ({} when `opts.ema_decay` is 0), as the DCGAN and text-conditional families keep it;
  `generate`'s aux is the generator's new batch statistics. The other arguments are
  `update`'s. Returns (the next state, metrics: the critic's and "g_loss").
  """
  g_params, g_opt_state, g_batch_stats, d, metrics, g_loss_value, _ = update(
      generate=generate, g_params=state.g_params, g_opt_state=state.g_opt_state, g_tx=g_tx, critic=critic,
      d=DState(state.d_params, state.d_batch_stats, state.d_opt_state), opts=opts, real=real, g_loss=g_loss,
      key=key, fresh_fakes=fresh_fakes)
  g_ema_params = ema_update(state.g_ema_params, g_params, opts.ema_decay) if opts.ema_decay else {}
  new_state = state.replace(
      step=state.step + 1, g_params=g_params, g_batch_stats=g_batch_stats, d_params=d.params,
      d_batch_stats=d.collections, g_opt_state=g_opt_state, d_opt_state=d.opt_state, g_ema_params=g_ema_params)
  return new_state, {**metrics, "g_loss": g_loss_value}
