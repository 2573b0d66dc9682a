"""The GAN losses and regularizers against numpy and direct per-example computations."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aigc_jax import configlib, losses
from aigc_jax.errors import UserError
from aigc_jax.train import gan

REAL = np.array([-2.0, -0.5, 0.0, 0.7, 3.0], np.float32)
FAKE = np.array([1.5, -1.0, 0.2, -3.0, 0.9], np.float32)

NUMPY = {
    "hinge": (lambda r, f: np.maximum(0, 1 - r) + np.maximum(0, 1 + f), lambda f: -f),
    "least_squares": (lambda r, f: 0.5 * ((r - 1) ** 2 + f ** 2), lambda f: 0.5 * (f - 1) ** 2),
    "wasserstein": (lambda r, f: f - r, lambda f: -f),
}


@pytest.mark.parametrize("name", sorted(NUMPY))
def test_losses_against_numpy(name):
  loss = losses.get_loss(name)
  d_ref, g_ref = NUMPY[name]
  d, g = jax.jit(loss.d_loss)(REAL, FAKE), jax.jit(loss.g_loss)(FAKE)
  assert d.shape == g.shape == REAL.shape  # Per example.
  np.testing.assert_allclose(d, d_ref(REAL.astype(np.float64), FAKE.astype(np.float64)), rtol=1e-6)
  np.testing.assert_allclose(g, g_ref(FAKE.astype(np.float64)), rtol=1e-6)


def test_unknown_loss_lists_the_choices():
  # Checked when the config is loaded (`get_loss` takes a checked name).
  config = configlib.load_config("dcgan_digits:smoke")
  config.loss = "nope"
  with pytest.raises(UserError, match="unknown loss 'nope'; choose one of .*hinge.*least_squares.*wasserstein"):
    gan.parse(config)


def _critic(params, x):
  """A small nonlinear critic over [B, 2, 2, 1] images, examples independent."""
  h = jnp.tanh(x.reshape(x.shape[0], -1) @ params["w1"])
  return (h @ params["w2"])[:, 0] + 0.3 * jnp.sum(x.reshape(x.shape[0], -1) ** 3, axis=-1)


def _setup():
  k1, k2, k3, k4 = jax.random.split(jax.random.key(0), 4)
  params = {"w1": jax.random.normal(k1, (4, 8)), "w2": jax.random.normal(k2, (8, 1))}
  real = jax.random.normal(k3, (5, 2, 2, 1))
  fake = jax.random.normal(k4, (5, 2, 2, 1))
  return params, real, fake


@jax.jit
def _direct_grad(params, x):
  """The gradient of the critic at each example, computed on each example alone."""
  return jax.vmap(jax.grad(lambda xi: _critic(params, xi[None])[0]))(x)


def test_r1_penalty_equals_a_direct_computation():
  params, real, _ = _setup()
  r1 = losses.r1_penalty(lambda x: _critic(params, x), real)
  expected = np.sum(_direct_grad(params, real) ** 2, axis=(1, 2, 3))
  assert r1.shape == (5,)
  np.testing.assert_allclose(r1, expected, rtol=1e-5)


def test_gradient_penalty_equals_a_direct_computation():
  params, real, fake = _setup()
  key = jax.random.key(7)
  gp = losses.gradient_penalty(lambda x: _critic(params, x), real, fake, key)
  eps = np.asarray(jax.random.uniform(key, (5, 1, 1, 1)))  # The same draw as inside.
  x_hat = eps * np.asarray(real) + (1 - eps) * np.asarray(fake)
  norms = np.sqrt(np.sum(_direct_grad(params, jnp.asarray(x_hat)) ** 2, axis=(1, 2, 3)))
  np.testing.assert_allclose(gp, (norms - 1) ** 2, rtol=1e-4, atol=1e-6)


def test_penalties_carry_gradients_to_the_critic():
  # The critic's update must see the penalty (double backprop).
  params, real, fake = _setup()
  grads = jax.grad(lambda p: jnp.mean(losses.gradient_penalty(lambda x: _critic(p, x), real, fake,
                                                               jax.random.key(1))))(params)
  assert all(float(jnp.abs(g).max()) > 0 for g in jax.tree.leaves(grads))
