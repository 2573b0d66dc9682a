"""The `model.crf` block on the restoration network: a last CRF layer guided by the
corrupted input, trained end to end; disabled, the network is the one without it."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from aigc_jax import configlib, crf
from aigc_jax.models import restoration as restoration_models
from aigc_jax.train import restoration


def _opts(spec):
  return restoration.parse(configlib.load_config(spec))


def _inputs(seed=0):
  k1, k2 = jax.random.split(jax.random.key(seed))
  corrupted = jax.random.uniform(k1, (2, 16, 16, 1), minval=-1, maxval=1)
  return corrupted, (jax.random.uniform(k2, (2, 16, 16, 1)) > 0.7).astype(jnp.float32)


@pytest.mark.parametrize("config", ["inpaint_digits", "denoise_digits"])
def test_the_crf_variant_enables_the_block_and_nothing_else(config):
  plain, with_crf = _opts(f"{config}:smoke"), _opts(f"{config}:smoke+crf")
  assert not plain.model.crf.enabled and with_crf.model.crf.enabled
  assert with_crf.model.crf.options() == crf.CRFOptions()  # The config's values are the layer's defaults.
  assert plain.model.crf.options() is None
  strip = lambda o: (o.run, o.data, o.mode, o.mask, o.noise_sigma, o.loss, o.l1_weight, o.adv_weight)
  assert strip(plain) == strip(with_crf)


def test_disabled_is_the_network_without_the_option():
  corrupted, mask = _inputs()
  opts = _opts("denoise_digits:smoke")
  net, _ = restoration.build_models(opts)
  before = restoration_models.RestorationNet(channels=1, features=8, depth=2, dilations=(2,))
  params = before.init(jax.random.key(3), corrupted, mask)
  assert jax.tree.structure(net.init(jax.random.key(3), corrupted, mask)) == jax.tree.structure(params)
  np.testing.assert_array_equal(net.apply(params, corrupted, mask), before.apply(params, corrupted, mask))


def test_a_run_saved_before_the_block_parses_as_disabled_and_steps_bit_identically():
  config = configlib.load_config("inpaint_digits:smoke")
  saved = config.to_dict()
  del saved["model"]["crf"]
  old = ml_collections.ConfigDict(saved)
  assert restoration.parse(old) == restoration.parse(config)
  opts_old, opts_new = restoration.parse(old), restoration.parse(config)
  batch = {"image": jax.random.uniform(jax.random.key(1), (8, 16, 16, 1), minval=-1, maxval=1)}
  states = []
  for opts in (opts_old, opts_new):
    state = restoration.init_state(opts, jax.random.key(0))
    states.append(restoration.make_train_step(opts)(state, batch, jax.random.key(2))[0])
  for a, b in zip(jax.tree.leaves(states[0]), jax.tree.leaves(states[1]), strict=True):
    np.testing.assert_array_equal(a, b)


def test_the_block_refines_the_output_guided_by_the_corrupted_input():
  corrupted, mask = _inputs(1)
  options = crf.CRFOptions(lam=1.5, theta_a=2.0, theta_b=0.5, window=3, iterations=6)
  plain = restoration_models.RestorationNet(channels=1, features=8, depth=2, dilations=(2,))
  with_crf = restoration_models.RestorationNet(channels=1, features=8, depth=2, dilations=(2,), crf=options)
  params = plain.init(jax.random.key(0), corrupted, mask)["params"]
  crf_params = with_crf.init(jax.random.key(0), corrupted, mask)["params"]
  assert set(crf_params) == set(params) | {"crf"}
  assert set(crf_params["crf"]) == {"raw_lam", "raw_theta_a", "raw_theta_b"}
  base = plain.apply({"params": params}, corrupted, mask)
  got = with_crf.apply({"params": {**params, "crf": crf_params["crf"]}}, corrupted, mask)
  expected = crf.gaussian_crf(base, corrupted, lam=1.5, theta_a=2.0, theta_b=0.5, window=3, iterations=6)
  np.testing.assert_allclose(np.asarray(got), np.asarray(expected), atol=1e-5)
  assert float(jnp.abs(got - base).max()) > 1e-3


def test_a_train_step_updates_the_crf_parameters():
  opts = _opts("denoise_digits:smoke+crf")
  state = restoration.init_state(opts, jax.random.key(0))
  batch = {"image": jax.random.uniform(jax.random.key(1), (8, 16, 16, 1), minval=-1, maxval=1)}
  new_state, metrics = jax.jit(restoration.make_train_step(opts))(state, batch, jax.random.key(2))
  assert all(np.isfinite(float(v)) for v in metrics.values())
  before, after = crf.positive_parameters(state.g_params["crf"]), crf.positive_parameters(new_state.g_params["crf"])
  assert before == pytest.approx({"lam": 1.0, "theta_a": 2.0, "theta_b": 0.3})
  assert all(after[k] > 0 and after[k] != before[k] for k in before), (before, after)
