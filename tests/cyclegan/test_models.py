"""CycleGAN networks: the release's parameter counts, shapes, and PyTorch's up-convolution."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import flax.linen as nn

from aigc_jax.models import cyclegan


def _count(tree):
  return sum(x.size for x in jax.tree.leaves(tree))


def _key(seed=0):
  # An rbg key: initialisers compile in a fraction of threefry's time on a CPU.
  return jax.random.key(seed, impl="rbg")


def _leaves_named(params, name):
  return [np.ravel(v) for path, v in jax.tree_util.tree_leaves_with_path(params)
          if path[-1].key == name]


def test_parameter_counts_match_the_release():
  # The release prints 11.378 M for resnet_9blocks and 2.765 M for the basic PatchGAN
  # (RGB, ngf = ndf = 64); abstract evaluation, so nothing is allocated at 256x256.
  x = jnp.zeros((1, 256, 256, 3))
  g_vars = jax.eval_shape(cyclegan.ResnetGenerator().init, jax.random.key(0), x)
  d_vars = jax.eval_shape(cyclegan.PatchDiscriminator().init, jax.random.key(0), x)
  assert _count(g_vars["params"]) == 11_378_179
  assert _count(d_vars["params"]) == 2_764_737
  assert set(g_vars) == set(d_vars) == {"params"}  # Instance norm keeps no statistics.
  # The 6-block generator of 128x128 images has 3 blocks x 2 convs x (256*256*9 + 256) fewer.
  g6 = jax.eval_shape(cyclegan.ResnetGenerator(n_blocks=6).init, jax.random.key(0), x)
  assert _count(g6["params"]) == 11_378_179 - 3 * 2 * (256 * 256 * 9 + 256)


def test_output_shapes_at_256_are_the_release_shapes():
  x = jax.ShapeDtypeStruct((2, 256, 256, 3), jnp.float32)
  g, d = cyclegan.ResnetGenerator(), cyclegan.PatchDiscriminator()
  g_vars = jax.eval_shape(g.init, jax.random.key(0), x)
  d_vars = jax.eval_shape(d.init, jax.random.key(0), x)
  assert jax.eval_shape(g.apply, g_vars, x).shape == (2, 256, 256, 3)
  assert jax.eval_shape(d.apply, d_vars, x).shape == (2, 30, 30, 1)  # 30x30 patches of 70x70.


@pytest.mark.parametrize("h,w", [(32, 32), (40, 28)])
def test_tiny_networks_keep_the_size_and_range(h, w):
  g = cyclegan.ResnetGenerator(ngf=4, n_blocks=1)
  d = cyclegan.PatchDiscriminator(ndf=4)
  x = jax.random.uniform(jax.random.key(1), (2, h, w, 3), minval=-1, maxval=1)
  y = jax.jit(g.apply)(jax.jit(g.init)(_key(), x), x)
  assert y.shape == x.shape and float(jnp.max(jnp.abs(y))) <= 1.0
  scores = jax.jit(d.apply)(jax.jit(d.init)(_key(), x), x)
  assert scores.shape == (2, h // 8 - 2, w // 8 - 2, 1)


def test_weights_start_from_normal_002_and_zero_biases():
  x = jnp.zeros((1, 32, 32, 3))
  params = jax.jit(cyclegan.ResnetGenerator(ngf=16, n_blocks=2).init)(_key(), x)["params"]
  kernels = np.concatenate(_leaves_named(params, "kernel"))
  biases = np.concatenate(_leaves_named(params, "bias"))
  assert len(_leaves_named(params, "kernel")) == 1 + 2 + 2 * 2 + 2 + 1  # in, down, blocks, up, out
  assert abs(kernels.std() - 0.02) < 0.001 and abs(kernels.mean()) < 0.001
  assert not biases.any()


def test_upsampling_is_pytorch_conv_transpose_k3_s2_p1_op1():
  # PyTorch's ConvTranspose2d scatters each input pixel: out[2i - 1 + k] += x[i] W[:, :, k].
  layer = nn.ConvTranspose(4, (3, 3), strides=(2, 2), padding=cyclegan._UP_PADDING, transpose_kernel=True)
  x = np.random.default_rng(0).normal(size=(1, 5, 6, 3)).astype(np.float32)
  variables = layer.init(_key(), x)
  kernel = np.asarray(variables["params"]["kernel"])  # [3, 3, out, in]
  ref = np.zeros((12, 14, 4))  # One extra row and column on each side, cropped below.
  for i in range(5):
    for j in range(6):
      for ki in range(3):
        for kj in range(3):
          ref[2 * i + ki, 2 * j + kj] += kernel[ki, kj] @ x[0, i, j]
  ref = ref[1:11, 1:13] + np.asarray(variables["params"]["bias"])
  np.testing.assert_allclose(np.asarray(layer.apply(variables, x))[0], ref, atol=1e-5)


def test_instance_norm_has_no_affine_parameters_and_is_per_image():
  x = np.random.default_rng(0).normal(size=(2, 6, 6, 3)).astype(np.float32) * 5 + 3
  norm = cyclegan.InstanceNorm()
  variables = norm.init(_key(), x)
  assert not jax.tree.leaves(variables)
  y = np.asarray(norm.apply(variables, x))
  np.testing.assert_allclose(y.mean(axis=(1, 2)), 0, atol=1e-5)
  np.testing.assert_allclose(y.var(axis=(1, 2)), 1, atol=1e-3)
  np.testing.assert_allclose(np.asarray(norm.apply(variables, x[:1])), y[:1], atol=1e-6)
