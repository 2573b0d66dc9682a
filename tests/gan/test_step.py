"""The GAN train step: its loss, what one step updates, the generator's gradient through
the saved forward pass, and the fixed sample grid."""

import jax
import jax.numpy as jnp
import numpy as np

from aigc_jax import configlib, losses
from aigc_jax.train import adversarial, gan


def _smoke():
  # The seed's recipe: its BatchNorm discriminator and BCE loss are what these tests check.
  return gan.parse(configlib.load_config("dcgan_digits:seed+smoke"))


def test_non_saturating_loss_against_numpy():
  real = np.array([-2.0, 0.0, 3.0], np.float32)
  fake = np.array([1.0, -1.0, 0.5], np.float32)
  sig = lambda x: 1 / (1 + np.exp(-x.astype(np.float64)))
  loss = losses.get_loss("non_saturating")
  np.testing.assert_allclose(loss.d_loss(real, fake), -np.log(sig(real)) - np.log(1 - sig(fake)), rtol=1e-6)
  np.testing.assert_allclose(loss.g_loss(fake), -np.log(sig(fake)), rtol=1e-6)


def test_one_step_updates_everything_and_reports_finite_losses():
  opts = _smoke()
  state = gan.init_state(opts, jax.random.key(0))
  batch = {"image": jax.random.uniform(jax.random.key(1), (8, 16, 16, 1), minval=-1, maxval=1)}
  new_state, metrics = jax.jit(gan.make_train_step(opts))(state, batch, jax.random.key(2))
  assert int(new_state.step) == 1
  for name in ("g_params", "d_params", "g_batch_stats", "d_batch_stats"):
    before, after = jax.tree.leaves(getattr(state, name)), jax.tree.leaves(getattr(new_state, name))
    assert all(not np.array_equal(a, b) for a, b in zip(before, after, strict=True)), name
  assert set(metrics) >= {"d_loss", "g_loss", "d_real", "d_fake"}
  assert all(np.isfinite(float(v)) for v in metrics.values())


def test_generator_gradient_matches_a_direct_computation():
  # The step pulls the generator's gradient back through a saved forward pass (vjp);
  # it must equal the gradient of the generator loss computed from scratch.
  opts = _smoke()
  state = gan.init_state(opts, jax.random.key(0))
  batch = {"image": jax.random.uniform(jax.random.key(1), (8, 16, 16, 1), minval=-1, maxval=1)}
  key = jax.random.key(3)
  new_state, _ = gan.make_train_step(opts)(state, batch, key)

  g, d = gan.build_models(opts)
  z = jax.random.normal(jax.random.split(key)[0], (8, opts.model.latent_dim))

  def g_loss(g_params):
    fake, _ = g.apply({"params": g_params, "batch_stats": state.g_batch_stats}, z, train=True,
                      mutable=["batch_stats"])
    logits, _ = d.apply({"params": new_state.d_params, "batch_stats": new_state.d_batch_stats}, fake,
                        train=True, mutable=["batch_stats"])
    return jnp.mean(jax.nn.softplus(-logits))
  grads = jax.grad(g_loss)(state.g_params)
  g_tx, _ = adversarial.adam_pair(opts.optimizer)
  updates, _ = g_tx.update(grads, g_tx.init(state.g_params), state.g_params)
  expected = jax.tree.map(lambda p, u: p + u, state.g_params, updates)
  for a, b in zip(jax.tree.leaves(expected), jax.tree.leaves(new_state.g_params), strict=True):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_sample_grid_is_fixed_across_calls():
  opts = _smoke()
  state = gan.init_state(opts, jax.random.key(0))
  a, ncols = gan.sample_grid(opts, state)
  b, _ = gan.sample_grid(opts, state)
  assert a.dtype == np.uint8 and a.shape == (4, 16, 16, 1) and ncols == 2
  np.testing.assert_array_equal(a, b)
