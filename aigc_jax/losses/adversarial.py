"""Adversarial losses and discriminator regularizers as functions over arrays, picked by name.

Each loss is a pair `(d_loss(real_logits, fake_logits), g_loss(fake_logits))` returning
per-example values [B]; callers reduce (usually with a mean). "Logits" are the
discriminator's raw outputs (a critic's scores, for the Wasserstein loss).

The regularizers `gradient_penalty` (WGAN-GP) and `r1_penalty` take the discriminator as
a function `critic(x [B, ...]) -> [B]` and also return per-example values. They get the
gradient of each output with respect to its own input by differentiating the sum of the
outputs, which is right only when the critic treats examples independently: no
BatchNorm in train mode (use `model.d_norm` "layer" or "none" with them).
"""

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp


class GANLoss(NamedTuple):
  d_loss: Callable  # (real_logits [B], fake_logits [B]) -> [B]
  g_loss: Callable  # (fake_logits [B]) -> [B]


def _ns_d(real, fake):
  # -log sigmoid(real) - log(1 - sigmoid(fake)), computed stably with softplus.
  return jax.nn.softplus(-real) + jax.nn.softplus(fake)


def _ns_g(fake):
  # The non-saturating generator loss: -log sigmoid(D(G(z))).
  return jax.nn.softplus(-fake)


def _hinge_d(real, fake):
  # Lim & Ye (2017), Miyato et al. (2018): a margin of 1 on each side.
  return jax.nn.relu(1.0 - real) + jax.nn.relu(1.0 + fake)


def _hinge_g(fake):
  return -fake


def _ls_d(real, fake):
  # Least squares (Mao et al., 2017), targets b = 1 for real and a = 0 for fake.
  return 0.5 * (jnp.square(real - 1.0) + jnp.square(fake))


def _ls_g(fake):
  # The generator's target c = 1, as in the paper's "c = b" choice.
  return 0.5 * jnp.square(fake - 1.0)


def _wasserstein_d(real, fake):
  # The critic maximises E[D(real)] - E[D(fake)]; needs a Lipschitz constraint
  # (`gradient_penalty`, or spectral norm) to be a distance estimate.
  return fake - real


def _wasserstein_g(fake):
  return -fake


# Registry of losses, selected with `config.loss`.
LOSSES = {
    "non_saturating": GANLoss(_ns_d, _ns_g),
    "hinge": GANLoss(_hinge_d, _hinge_g),
    "least_squares": GANLoss(_ls_d, _ls_g),
    "wasserstein": GANLoss(_wasserstein_d, _wasserstein_g),
}


def get_loss(name: str) -> GANLoss:
  """The loss pair named `name` (checked when the config is loaded)."""
  return LOSSES[name]


def _input_gradients(critic: Callable, x):
  """d critic(x)[i] / d x[i] for every example i, shape of `x`."""
  logits, pullback = jax.vjp(critic, x)
  (grads,) = pullback(jnp.ones_like(logits))
  return grads


def _per_example_sq_norm(g):
  return jnp.sum(jnp.square(g).reshape(g.shape[0], -1), axis=-1)


def gradient_penalty(critic: Callable, real, fake, key):
  """WGAN-GP's penalty (Gulrajani et al., 2017): (||grad D(x_hat)||_2 - 1)^2, [B].

  `x_hat = eps * real + (1 - eps) * fake` with `eps ~ U[0, 1]` drawn per example from
  `key`: the penalty pushes the critic's gradient norm to 1 along lines between the two
  distributions, a soft form of the 1-Lipschitz constraint. Multiply by lambda (10 in the
  paper) before adding it to the critic's loss. `fake` should carry no gradient to the
  generator (stop it first).
  """
  eps = jax.random.uniform(key, (real.shape[0],) + (1,) * (real.ndim - 1), real.dtype)
  x_hat = eps * real + (1.0 - eps) * fake
  norms = jnp.sqrt(_per_example_sq_norm(_input_gradients(critic, x_hat)) + 1e-12)
  return jnp.square(norms - 1.0)


def r1_penalty(critic: Callable, real):
  """R1 (Mescheder et al., 2018): ||grad D(x)||_2^2 on real data, [B].

  Penalising the discriminator's gradient on real data keeps it from pushing the
  generator off the data manifold; multiply by gamma / 2 before adding it to D's loss.
  """
  return _per_example_sq_norm(_input_gradients(critic, real))


# ------------------------------------------------------------------------ patch losses

def per_example_mean(x):
  """[B, ...] -> [B]: the mean over everything but the batch axis."""
  return jnp.mean(x.reshape(x.shape[0], -1), axis=1)


def lsgan_patch_d_loss(real_scores, fake_scores):
  """CycleGAN's discriminator loss on patch scores [B, h, w, 1] -> [B]:
  (mean (real - 1)^2 + mean fake^2) / 2, the release's halving included."""
  return 0.5 * (per_example_mean(jnp.square(real_scores - 1.0)) + per_example_mean(jnp.square(fake_scores)))


def lsgan_patch_g_loss(fake_scores):
  """CycleGAN's generator loss on patch scores [B, h, w, 1] -> [B]: mean (fake - 1)^2
  (the release's weight, no 1/2)."""
  return per_example_mean(jnp.square(fake_scores - 1.0))


def l1(x, y):
  """Images [B, H, W, C] -> [B]: the mean absolute difference of each pair."""
  return per_example_mean(jnp.abs(x - y))
