import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aigc_jax.models import dcgan


def _count(tree):
  return sum(x.size for x in jax.tree.leaves(tree))


def test_parameter_counts_match_the_pytorch_reference():
  # The seed's PyTorch DCGAN at 32x32 RGB: G 1,068,928 and D 663,296 parameters
  # (BatchNorm scale and bias included, running statistics not).
  g, d = dcgan.Generator(resolution=32, channels=3), dcgan.Discriminator(resolution=32)
  g_vars = jax.eval_shape(g.init, jax.random.key(0), jnp.zeros((1, 100)))
  d_vars = jax.eval_shape(d.init, jax.random.key(0), jnp.zeros((1, 32, 32, 3)))
  assert _count(g_vars["params"]) == 1_068_928
  assert _count(d_vars["params"]) == 663_296


@pytest.mark.parametrize("resolution,channels", [(8, 1), (16, 1), (32, 3)])
def test_shapes_and_range(resolution, channels):
  g = dcgan.Generator(resolution=resolution, channels=channels, base_features=8)
  d = dcgan.Discriminator(resolution=resolution, base_features=8)
  z = jax.random.normal(jax.random.key(1), (3, 16))
  g_vars = g.init(jax.random.key(0), z, train=False)
  images = g.apply(g_vars, z, train=False)
  assert images.shape == (3, resolution, resolution, channels)
  assert float(jnp.max(jnp.abs(images))) <= 1.0
  d_vars = d.init(jax.random.key(0), images, train=False)
  logits = d.apply(d_vars, images, train=False)
  assert logits.shape == (3,)


def test_train_mode_updates_batch_stats_and_uses_batch_statistics():
  g = dcgan.Generator(resolution=16, channels=1, base_features=8)
  z = jax.random.normal(jax.random.key(1), (4, 16))
  variables = g.init(jax.random.key(0), z, train=False)
  out, mutated = g.apply(variables, z, train=True, mutable=["batch_stats"])
  before = jax.tree.leaves(variables["batch_stats"])
  after = jax.tree.leaves(mutated["batch_stats"])
  assert any(not np.allclose(a, b) for a, b in zip(before, after))


def test_no_biases_anywhere_but_batchnorm():
  g = dcgan.Generator(resolution=32, channels=3)
  params = jax.eval_shape(g.init, jax.random.key(0), jnp.zeros((1, 100)))["params"]
  paths = ["/".join(str(k.key) for k in path) for path, _ in jax.tree_util.tree_leaves_with_path(params)]
  assert all("BatchNorm" in p for p in paths if p.endswith("bias"))


@pytest.mark.parametrize("resolution", [4, 12, 33])
def test_bad_resolution_is_a_clear_error(resolution):
  with pytest.raises(ValueError, match="4 \\* 2\\*\\*k"):
    dcgan.num_stages(resolution)


@pytest.mark.parametrize("resolution,channels,cond", [(32, 3, False), (16, 1, True)])
def test_subpixel_generator_equals_the_dilated_one(resolution, channels, cond):
  # Same key -> the same parameter tree and values, and the same images (float tolerance),
  # in training (batch statistics) and evaluation mode.
  kwargs = dict(resolution=resolution, channels=channels, base_features=8, cond_dim=3 if cond else 0, cbn=cond)
  fast, plain = dcgan.Generator(**kwargs), dcgan.Generator(upsample="dilated", **kwargs)
  z = jax.random.normal(jax.random.key(1), (4, 16))
  y = jax.nn.one_hot(jnp.arange(4) % 3, 3) if cond else None
  fast_vars = fast.init(jax.random.key(0), z, y, train=False)
  plain_vars = plain.init(jax.random.key(0), z, y, train=False)
  for a, b in zip(jax.tree.leaves(fast_vars), jax.tree.leaves(plain_vars)):
    np.testing.assert_array_equal(a, b)
  assert jax.tree.structure(fast_vars) == jax.tree.structure(plain_vars)
  for train in (True, False):
    apply = lambda g: g.apply(plain_vars, z, y, train=train, mutable=["batch_stats"])[0]
    np.testing.assert_allclose(apply(fast), apply(plain), rtol=1e-5, atol=2e-6)


def test_bfloat16_compute_keeps_float32_parameters_and_outputs():
  g = dcgan.Generator(resolution=16, channels=1, base_features=8, dtype=jnp.bfloat16)
  d = dcgan.Discriminator(resolution=16, base_features=8, dtype=jnp.bfloat16)
  z = jax.random.normal(jax.random.key(1), (4, 16))
  g_vars = g.init(jax.random.key(0), z, train=False)
  images = g.apply(g_vars, z, train=False)
  d_vars = d.init(jax.random.key(0), images, train=False)
  logits = d.apply(d_vars, images, train=False)
  assert {x.dtype for x in jax.tree.leaves((g_vars, d_vars))} == {jnp.dtype(jnp.float32)}
  assert images.dtype == logits.dtype == jnp.float32
  # The parameters do not depend on the compute dtype; the images agree to bf16 precision.
  g32 = dcgan.Generator(resolution=16, channels=1, base_features=8)
  np.testing.assert_allclose(images, g32.apply(g_vars, z, train=False), atol=0.05)


def test_unknown_upsample_is_a_clear_error():
  g = dcgan.Generator(resolution=8, channels=1, base_features=8, upsample="nearest")
  with pytest.raises(ValueError, match="subpixel, dilated"):
    g.init(jax.random.key(0), jnp.zeros((1, 16)))
