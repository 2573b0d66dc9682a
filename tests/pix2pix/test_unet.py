"""pix2pix's U-Net: depth from resolution, shapes, the release's parameter count, dropout, CRF."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aigc_jax import crf
from aigc_jax.errors import UserError
from aigc_jax.models import unet


def _key(seed):
  # rbg keys: XLA:CPU compiles threefry's bit generator slowly, once per parameter
  # shape; the network's function does not depend on the generator.
  return jax.random.key(seed, impl="rbg")


def _count(variables):
  return sum(int(np.prod(p.shape)) for p in jax.tree.leaves(variables["params"]))


def test_levels_follow_the_resolution():
  assert [unet.levels_for(r) for r in (4, 16, 32, 48, 64, 256, 512)] == [2, 4, 5, 4, 6, 8, 8]
  with pytest.raises(UserError, match="multiple of 4"):
    unet.levels_for(30)


@pytest.mark.parametrize("norm", ["batch", "instance"])
def test_unet_256_has_the_release_parameter_count(norm):
  # Tracing only (jax.eval_shape): nothing of the 54M-parameter network is computed.
  model = unet.UnetGenerator(num_downs=unet.levels_for(256), norm=norm)
  variables = jax.eval_shape(model.init, _key(0), jnp.zeros((1, 256, 256, 3)))
  # Batch norm: the release's unet_256 (54,413,955). Instance norm drops the 9,856 affine
  # norm parameters and adds biases to every convolution but the last, which has one
  # either way: 3,008 (encoder) + 2,496 (decoder).
  assert _count(variables) == (54_413_955 if norm == "batch" else 54_413_955 - 9_856 + 3_008 + 2_496)
  assert ("batch_stats" in variables) == (norm == "batch")
  params = variables["params"]
  assert params["down_0"]["kernel"].shape == (4, 4, 3, 64) and params["down_7"]["kernel"].shape == (4, 4, 512, 512)
  assert "down_norm_7" not in params and "down_norm_0" not in params and "bias" in params["up_0"]


@pytest.mark.parametrize("size", [32, 64])
def test_shapes_at_other_sizes(size):
  # Shapes only (jax.eval_shape): the 16x16 tests below compute.
  model = unet.UnetGenerator(num_downs=unet.levels_for(size), ngf=4, norm="instance", out_channels=2)
  x = jax.ShapeDtypeStruct((1, size, size, 3), jnp.float32)
  variables = jax.eval_shape(model.init, _key(0), x)
  out = jax.eval_shape(model.apply, variables, x)
  assert out.shape == (1, size, size, 2) and out.dtype == jnp.float32
  assert len([k for k in variables["params"] if k.startswith("down_")]) == unet.levels_for(size)
  with pytest.raises(ValueError, match="multiples of"):
    jax.eval_shape(model.apply, variables, jax.ShapeDtypeStruct((1, size + 4, size, 3), jnp.float32))


@pytest.fixture(scope="module")
def small():
  """A 16x16 U-Net (4 levels, ngf 8), 1 -> 3 channels, its variables and one jitted apply
  `run(variables, x, train, dropout, seed) -> (out, batch_stats)` shared by the tests."""
  model = unet.UnetGenerator(num_downs=unet.levels_for(16), out_channels=3, ngf=8)
  x = jax.random.uniform(_key(1), (2, 16, 16, 1), minval=-1, maxval=1)
  variables = jax.jit(model.init)(_key(0), x)

  @functools.partial(jax.jit, static_argnames=("train", "dropout", "module"))
  def run(variables, x, train=False, dropout=False, seed=0, module=model):
    out, updates = module.apply(variables, x, train=train, dropout=dropout, mutable=["batch_stats"],
                                rngs={"dropout": _key(seed)})
    return out, updates["batch_stats"]
  return model, x, variables, run


def test_small_unet_shapes_range_and_skip_connections(small):
  model, x, variables, run = small
  out, _ = run(variables, x)
  assert out.shape == (2, 16, 16, 3) and float(jnp.abs(out).max()) <= 1
  # The outermost skip carries the input straight to the last layer: one input pixel
  # moves the output near it; running statistics keep the other image unchanged.
  changed, _ = run(variables, x.at[0, 5, 5, 0].add(1.0))
  assert float(jnp.abs(changed - out)[0, 4:7, 4:7].max()) > 0
  np.testing.assert_array_equal(np.asarray(changed[1]), np.asarray(out[1]))


def test_dropout_is_active_only_when_asked(small):
  model, x, variables, run = small
  plain, _ = run(variables, x)
  np.testing.assert_array_equal(np.asarray(run(variables, x, seed=3)[0]), np.asarray(plain))  # No rng used.
  a, b = run(variables, x, dropout=True, seed=0)[0], run(variables, x, dropout=True, seed=1)[0]
  assert not np.allclose(a, plain) and not np.allclose(a, b)
  np.testing.assert_array_equal(np.asarray(a), np.asarray(run(variables, x, dropout=True, seed=0)[0]))
  no_blocks = unet.UnetGenerator(num_downs=4, ngf=8, dropout_blocks=0)
  np.testing.assert_array_equal(np.asarray(run(variables, x, dropout=True, module=no_blocks)[0]), np.asarray(plain))


def test_batch_statistics_only_in_training(small):
  model, x, variables, run = small
  out, stats = run(variables, x, train=True)
  assert not np.allclose(out, run(variables, x)[0])
  moved = jax.tree.map(lambda a, b: float(jnp.abs(a - b).max()), stats, variables["batch_stats"])
  assert min(jax.tree.leaves(moved)) > 0
  np.testing.assert_array_equal(  # Evaluation leaves them alone.
      jax.tree.leaves(run(variables, x)[1])[0], jax.tree.leaves(variables["batch_stats"])[0])


def test_crf_layer_refines_the_output_guided_by_the_input(small):
  model, x, variables, run = small
  options = crf.CRFOptions(lam=0.8, theta_a=1.5, theta_b=0.3, window=3, iterations=4)
  with_crf = unet.UnetGenerator(num_downs=4, ngf=8, crf=options)
  crf_variables = jax.eval_shape(with_crf.init, _key(0), x)
  assert set(crf_variables["params"]["crf"]) == {"raw_lam", "raw_theta_a", "raw_theta_b"}
  crf_params = crf.CRFLayer(options).init(_key(0), x, x)["params"]
  crf_variables = {"params": {**variables["params"], "crf": crf_params}, "batch_stats": variables["batch_stats"]}
  expected = crf.gaussian_crf(run(variables, x)[0], x, lam=0.8, theta_a=1.5, theta_b=0.3, window=3, iterations=4)
  got = run(crf_variables, x, module=with_crf)[0]
  np.testing.assert_allclose(np.asarray(got), np.asarray(expected), atol=1e-5)
