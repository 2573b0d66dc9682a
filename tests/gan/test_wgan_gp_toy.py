"""WGAN-GP on a toy problem: the penalty drives the critic's gradient norm to 1.

A small MLP critic is trained (the generator held fixed) to separate two 2-D Gaussians.
Without a constraint its gradients grow without bound; with the penalty (lambda 10 on
interpolates) the gradient norm along the lines between the two sets settles near 1.
(Not exactly 1: for means a distance m apart, the best slope trades the Wasserstein
term against the penalty at 1 + m / (2 lambda), 1.06 here, so the sets are kept close,
as a generator that is learning keeps them.)
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from aigc_jax import losses


class Critic(nn.Module):
  @nn.compact
  def __call__(self, x):
    x = nn.relu(nn.Dense(32)(x))
    x = nn.relu(nn.Dense(32)(x))
    return nn.Dense(1)(x)[:, 0]


def _train(gp_weight, steps=400):
  critic = Critic()
  key = jax.random.key(0)
  params = critic.init(key, jnp.zeros((1, 2)))["params"]
  tx = optax.adam(1e-3, b1=0.5, b2=0.9)
  loss = losses.get_loss("wasserstein")

  def batch(k):
    kr, kf = jax.random.split(k)
    real = jnp.array([0.5, 0.5]) + 0.3 * jax.random.normal(kr, (64, 2))
    fake = jnp.array([-0.5, 0.0]) + 0.3 * jax.random.normal(kf, (64, 2))
    return real, fake

  def step(carry, k):
    params, opt_state = carry
    real, fake = batch(k)

    def loss_fn(p):
      f = lambda x: critic.apply({"params": p}, x)
      per_example = loss.d_loss(f(real), f(fake))
      return jnp.mean(per_example + gp_weight * losses.gradient_penalty(f, real, fake, jax.random.fold_in(k, 1)))
    grads = jax.grad(loss_fn)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return (optax.apply_updates(params, updates), opt_state), None

  (params, _), _ = jax.lax.scan(step, (params, tx.init(params)), jax.random.split(key, steps))
  real, fake = batch(jax.random.key(99))
  eps = jax.random.uniform(jax.random.key(98), (64, 1))
  x_hat = eps * real + (1 - eps) * fake
  grads = jax.vmap(jax.grad(lambda x: critic.apply({"params": params}, x[None])[0]))(x_hat)
  return jnp.linalg.norm(grads, axis=-1)


def test_gradient_penalty_drives_gradient_norms_to_one():
  train = jax.jit(_train)  # One compilation for both weights.
  norms = np.asarray(train(10.0))
  assert abs(float(np.mean(norms)) - 1.0) < 0.1, norms
  # Most points, not all: a ReLU network's slope can jump at a kink.
  assert float(np.mean(np.abs(norms - 1.0) < 0.25)) >= 0.9, norms
  free = np.asarray(train(0.0))
  assert float(np.mean(free)) > 2.0, free  # Unconstrained, the critic's slope keeps growing.
