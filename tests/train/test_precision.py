"""bfloat16 mixed precision (`config.compute_dtype`): float32 parameters and optimizer
state, losses close to the float32 step's, float32 the default."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aigc_jax import configlib
from aigc_jax.errors import UserError
from aigc_jax.train import precision
from aigc_jax.train.task import parse_config


def _tiny(name):
  config = configlib.load_config(name)
  if config.task == "cyclegan":
    config.model.ngf, config.model.ndf, config.model.n_blocks = 4, 4, 1
    config.data.load_size = config.data.crop_size = 16
  return config


def _batch(config):
  rng = np.random.default_rng(0)
  if config.task == "cyclegan":
    size = config.data.load_size
    return {d: rng.uniform(-1, 1, (1, size, size, 3)).astype(np.float32) for d in "AB"}
  r, c = config.data.resolution, config.data.channels
  # On the 256-level grid, as the discretized likelihoods expect.
  images = rng.integers(0, 256, (config.batch_size, r, r, c)) / 127.5 - 1.0
  return {"image": images.astype(np.float32)}


def _one_step(config):
  task, opts = parse_config(config)
  state = task.init_state(opts, jax.random.key(0))
  new_state, metrics = jax.jit(task.make_train_step(opts))(state, _batch(config), jax.random.key(1))
  return state, new_state, metrics


@pytest.mark.parametrize("name", ["dcgan_digits:seed+smoke", "dcgan_digits:smoke", "vae_digits:smoke",
                                  "cyclegan_photos:smoke", "inpaint_digits:smoke"])
def test_bfloat16_step_keeps_float32_state_and_matches_the_float32_losses(name):
  config = _tiny(name)
  assert config.compute_dtype == "float32"  # The default.
  _, _, metrics32 = _one_step(config)
  config.compute_dtype = "bfloat16"
  state, new_state, metrics16 = _one_step(config)
  for tree in (state, new_state):
    assert {x.dtype for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.floating)} == {
        jnp.dtype(jnp.float32)}
  assert set(metrics16) == set(metrics32)
  for k in metrics32:
    assert metrics16[k].dtype == jnp.float32, k
    np.testing.assert_allclose(metrics16[k], metrics32[k], rtol=0.05, atol=0.02, err_msg=k)


def test_unknown_compute_dtype_is_a_clear_error():
  config = configlib.load_config("vae_digits:smoke")
  config.compute_dtype = "float16"
  with pytest.raises(UserError, match="float32, bfloat16"):
    parse_config(config)  # Refused when the config is loaded, before any model is built.
  assert precision.compute_dtype("bfloat16") == jnp.bfloat16
