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
