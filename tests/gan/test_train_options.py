"""The GAN step's options do what they claim: n_critic, EMA, gradient penalty, R1,
spectral norm and conditioning inside the real jitted train step."""

import jax
import numpy as np
import pytest

from aigc_jax import configlib
from aigc_jax.errors import UserError
from aigc_jax.models import dcgan
from aigc_jax.train import adversarial, gan


def _batch(resolution):
  return {"image": jax.random.uniform(jax.random.key(1), (8, resolution, resolution, 1), minval=-1, maxval=1),
          "label": np.arange(8, dtype=np.int32) % 10}


def _step(spec, **overrides):
  config = configlib.load_config(spec)
  for k, v in overrides.items():
    configlib.set_value(config, k, v)
  opts = gan.parse(config)
  state = gan.init_state(opts, jax.random.key(0))
  batch = _batch(opts.data.resolution)
  new_state, metrics = jax.jit(gan.make_train_step(opts))(state, batch, jax.random.key(2))
  return config, state, new_state, metrics


@pytest.fixture(scope="module")
def wgan():
  # WGAN-GP with n_critic=2 and EMA: one compilation, of the smallest DCGAN (8x8).
  return _step("dcgan_digits:wgan_gp+ema+smoke", n_critic=2, ema_decay=0.9, **{"data.resolution": 8})


@pytest.fixture(scope="module")
def conditional():
  # Class-conditional, hinge + spectral norm, R1, conditional BatchNorm, concat D and
  # DiffAugment (8x8).
  return _step("cgan_digits:hinge_sn+diffaugment+smoke", r1_gamma=1.0, **{
      "model.g_cbn": True, "model.d_conditioning": "concat", "data.resolution": 8})


def _count(opt_state):
  return int(opt_state[0].count)  # optax.adam's step counter.


def test_n_critic_two_runs_two_discriminator_updates(wgan):
  _, state, new_state, metrics = wgan
  assert _count(new_state.d_opt_state) == 2 and _count(new_state.g_opt_state) == 1
  assert int(new_state.step) == 1
  assert {"d_loss", "g_loss", "gp"} <= set(metrics)
  assert all(np.isfinite(float(v)) for v in metrics.values())


def test_ema_moves_toward_the_live_weights_by_exactly_the_rate(wgan):
  config, state, new_state, _ = wgan
  for old, live, new in zip(*(jax.tree.leaves(t) for t in (state.g_ema_params, new_state.g_params,
                                                            new_state.g_ema_params)), strict=True):
    np.testing.assert_allclose(new, 0.9 * np.asarray(old) + 0.1 * np.asarray(live), rtol=1e-6, atol=1e-8)
  assert not all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(new_state.g_ema_params),
                                                      jax.tree.leaves(new_state.g_params), strict=True))
  # Sampling, grids and evaluation read the EMA weights.
  assert gan.sampling_variables(gan.parse(config), new_state)["params"] is new_state.g_ema_params
  no_ema = config.copy_and_resolve_references()
  no_ema.ema_decay = 0.0
  assert gan.sampling_variables(gan.parse(no_ema), new_state)["params"] is new_state.g_params


def test_ema_update_is_the_convex_combination():
  ema = {"w": np.array([0.0, 1.0, 2.0], np.float32)}
  live = {"w": np.array([1.0, 1.0, 0.0], np.float32)}
  np.testing.assert_allclose(adversarial.ema_update(ema, live, 0.75)["w"], [0.25, 1.0, 1.5])


def test_conditional_step_trains_every_part(conditional):
  _, state, new_state, metrics = conditional
  assert {"r1", "d_loss", "g_loss"} <= set(metrics)
  assert all(np.isfinite(float(v)) for v in metrics.values())
  # The label embedding and conditional BatchNorm of G, and D's spectral-norm vectors, moved.
  for path in (("embed", "kernel"), ("ConditionalBatchNorm_0", "gamma", "kernel")):
    a, b = state.g_params, new_state.g_params
    for key in path:
      a, b = a[key], b[key]
    assert not np.array_equal(a, b), path
  u_before = state.d_batch_stats["SpectralNorm_0"]["Conv_0/kernel/u"]
  u_after = new_state.d_batch_stats["SpectralNorm_0"]["Conv_0/kernel/u"]
  assert not np.array_equal(u_before, u_after)


def test_layer_norm_discriminator_normalises_each_example():
  d = dcgan.Discriminator(resolution=16, base_features=4, norm="layer")
  x = jax.random.uniform(jax.random.key(0), (3, 16, 16, 1), minval=-1, maxval=1)
  other = x.at[1:].set(-x[1:])  # The same first image in a different batch.

  @jax.jit
  def run(key):
    variables = d.init(key, x)
    return variables, d.apply(variables, x), d.apply(variables, other)
  variables, a, b = run(jax.random.key(1))
  assert "LayerNorm_0" in variables["params"] and "batch_stats" not in variables
  # Per example: an image's logit does not depend on the rest of the batch.
  np.testing.assert_allclose(a[0], b[0], rtol=1e-5, atol=1e-6)
  assert not np.allclose(a[1:], b[1:])


def test_gradient_penalty_with_batchnorm_is_refused():
  config = configlib.load_config("dcgan_digits:wgan_gp+smoke")
  config.model.d_norm = "batch"
  with pytest.raises(UserError, match="d_norm=layer"):
    gan.parse(config)  # Checked when the config is loaded, before any step is built.


@pytest.mark.parametrize("key,value,message", [
    ("n_critic", 0, "n_critic must be at least 1"),
    ("model.d_norm", "group", "unknown model.d_norm 'group'"),
    ("data.resolution", 12, "data.resolution"),
])
def test_bad_options_are_refused_at_parse(key, value, message):
  config = configlib.load_config("dcgan_digits:smoke")
  configlib.set_value(config, key, value)
  with pytest.raises(UserError, match=message):
    gan.parse(config)
