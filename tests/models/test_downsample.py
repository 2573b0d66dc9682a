"""downsample.stride2_conv: XLA's stride-2 convolution with a phase-form input gradient.

Everything is compared with `lax.conv_general_dilated` and JAX's own derivatives of it.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from aigc_jax.models import downsample

DN = ("NHWC", "HWIO", "NHWC")


def lax_conv(x, w, strides, padding):
  return jax.lax.conv_general_dilated(x, w, strides, padding, dimension_numbers=DN)


def library_conv(x, w, strides, padding):
  dn = jax.lax.conv_dimension_numbers(x.shape, w.shape, DN)  # as nn.Conv passes them
  return downsample.conv_general_dilated(x, w, strides, padding, dimension_numbers=dn)


def arrays(h, cin, cout, k, seed=0):
  rng = np.random.default_rng(seed)
  return (jnp.asarray(rng.standard_normal((3, h, h, cin), np.float32)),
          jnp.asarray(rng.standard_normal((k, k, cin, cout), np.float32) / k))


def rel(a, b):
  return float(jnp.abs(a - b).max() / jnp.abs(b).max())


# The DCGAN/PatchGAN layer (4x4, padding 1), PyTorch's 3x3 padding-1 downsampling (one
# padded row never read), an asymmetric 3x3, a wider kernel, and a non-square map.
COVERED = [((16, 64, 32), 4, ((1, 1), (1, 1))), ((8, 32, 16), 3, ((1, 1), (1, 1))),
           ((8, 16, 24), 3, ((0, 1), (0, 1))), ((8, 32, 8), 6, ((2, 2), (2, 2)))]


@pytest.mark.parametrize("shape, k, padding", COVERED)
def test_value_and_gradients_match_xla(shape, k, padding):
  x, w = arrays(*shape, k)
  assert downsample.covers(x.shape, w.shape, (2, 2), padding, None, None, DN)
  np.testing.assert_array_equal(library_conv(x, w, (2, 2), padding), lax_conv(x, w, (2, 2), padding))
  loss = lambda conv: lambda x, w: jnp.sum(jnp.sin(conv(x, w, (2, 2), padding)))
  want = jax.grad(loss(lax_conv), (0, 1))(x, w)
  got = jax.grad(loss(library_conv), (0, 1))(x, w)
  assert rel(got[0], want[0]) < 1e-5  # the input gradient: computed as four phases
  np.testing.assert_array_equal(got[1], want[1])  # the kernel gradient: XLA's own


@pytest.mark.parametrize("shape, k, padding", COVERED[:2])
def test_second_order_gradients_match_xla(shape, k, padding):
  """Gradient penalties (R1, WGAN-GP) differentiate the input gradient again."""
  x, w = arrays(*shape, k, seed=1)
  penalty = lambda conv: lambda x, w: jnp.sum(
      jax.grad(lambda x: jnp.sum(jnp.tanh(conv(x, w, (2, 2), padding))))(x) ** 2)
  want = jax.grad(penalty(lax_conv), (0, 1))(x, w)
  got = jax.grad(penalty(library_conv), (0, 1))(x, w)
  assert rel(got[0], want[0]) < 1e-5 and rel(got[1], want[1]) < 1e-5


@pytest.mark.parametrize("shape, strides, padding", [
    ((3, 8, 8, 64), (1, 1), ((1, 1), (1, 1))),   # stride 1
    ((3, 8, 8, 3), (2, 2), ((1, 1), (1, 1))),    # RGB input: XLA's gradient is faster
    ((3, 9, 9, 64), (2, 2), ((1, 1), (1, 1))),   # odd size
    ((3, 8, 8, 64), (2, 2), ((0, 0), (0, 0))),   # output not half the input
    ((3, 8, 8, 64), (2, 2), ((-1, 3), (-1, 3))),  # negative padding (a crop)
    ((3, 8, 8, 64), (2, 2), "SAME"),             # string padding (the DCGAN's is explicit)
])
def test_other_convolutions_fall_through_to_xla(shape, strides, padding):
  w_shape = (4, 4, shape[-1], 8)
  assert not downsample.covers(shape, w_shape, strides, padding, None, None, DN)
  x = jnp.asarray(np.random.default_rng(2).standard_normal(shape, np.float32))
  w = jnp.asarray(np.random.default_rng(3).standard_normal(w_shape, np.float32))
  np.testing.assert_array_equal(library_conv(x, w, strides, padding), lax_conv(x, w, strides, padding))
  grad = lambda conv: jax.grad(lambda x: jnp.sum(jnp.sin(conv(x, w, strides, padding))))(x)
  np.testing.assert_array_equal(grad(library_conv), grad(lax_conv))  # the same program


def test_flax_conv_keeps_its_parameters_and_function():
  plain = nn.Conv(32, (4, 4), strides=(2, 2), padding=((1, 1), (1, 1)))
  fast = nn.Conv(32, (4, 4), strides=(2, 2), padding=((1, 1), (1, 1)),
                 conv_general_dilated=downsample.conv_general_dilated)
  x = arrays(16, 32, 1, 1)[0]
  params = plain.init(jax.random.key(0), x)
  assert jax.tree.structure(fast.init(jax.random.key(0), x)) == jax.tree.structure(params)
  loss = lambda module: lambda p, x: jnp.sum(module.apply(p, x) ** 2)
  want = jax.grad(loss(plain), (0, 1))(params, x)
  got = jax.grad(loss(fast), (0, 1))(params, x)
  assert rel(got[1], want[1]) < 1e-5
  np.testing.assert_array_equal(got[0]["params"]["kernel"], want[0]["params"]["kernel"])
  # XLA's own input gradient dilates the output gradient with zeros; the fast path does not.
  dilated = "lhs_dilation=(2, 2)"
  assert dilated in str(jax.make_jaxpr(jax.grad(loss(plain), 1))(params, x))
  assert dilated not in str(jax.make_jaxpr(jax.grad(loss(fast), 1))(params, x))
