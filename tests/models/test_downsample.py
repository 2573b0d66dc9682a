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


def arrays(h, w, cin, cout, k, seed=0, dtype=np.float32):
  rng = np.random.default_rng(seed)
  return (jnp.asarray(rng.standard_normal((3, h, w, cin)), dtype),
          jnp.asarray(rng.standard_normal((k, k, cin, cout)) / k, dtype))


def rel(a, b):
  return float(jnp.abs(a - b).max() / jnp.abs(b).max())


# (h, w, cin, cout, k, padding): the DCGAN/PatchGAN layer (4x4, padding 1), PyTorch's 3x3
# padding-1 downsampling (the padded input's last row is never read), an asymmetric 3x3,
# a wider kernel, and a non-square map.
COVERED = [(16, 16, 64, 32, 4, ((1, 1), (1, 1))), (8, 8, 32, 16, 3, ((1, 1), (1, 1))),
           (8, 8, 16, 24, 3, ((0, 1), (0, 1))), (8, 8, 32, 8, 6, ((2, 2), (2, 2))),
           (6, 10, 16, 8, 4, ((1, 1), (1, 1)))]


@pytest.mark.parametrize("h, w, cin, cout, k, padding", COVERED)
def test_value_and_gradients_match_xla(h, w, cin, cout, k, padding):
  x, kernel = arrays(h, w, cin, cout, k)
  assert downsample.covers(x.shape, kernel.shape, (2, 2), padding, None, None, DN)
  np.testing.assert_array_equal(library_conv(x, kernel, (2, 2), padding),
                                lax_conv(x, kernel, (2, 2), padding))
  loss = lambda conv: lambda x, kernel: jnp.sum(jnp.sin(conv(x, kernel, (2, 2), padding)))
  want = jax.grad(loss(lax_conv), (0, 1))(x, kernel)
  got = jax.grad(loss(library_conv), (0, 1))(x, kernel)
  assert rel(got[0], want[0]) < 1e-5  # the input gradient: computed as four phases
  np.testing.assert_array_equal(got[1], want[1])  # the kernel gradient: XLA's own


@pytest.mark.parametrize("h, w, cin, cout, k, padding", COVERED)
def test_second_order_gradients_match_xla(h, w, cin, cout, k, padding):
  """Gradient penalties (R1, WGAN-GP) differentiate the input gradient again."""
  x, kernel = arrays(h, w, cin, cout, k, seed=1)
  penalty = lambda conv: lambda x, kernel: jnp.sum(
      jax.grad(lambda x: jnp.sum(jnp.tanh(conv(x, kernel, (2, 2), padding))))(x) ** 2)
  want = jax.grad(penalty(lax_conv), (0, 1))(x, kernel)
  got = jax.grad(penalty(library_conv), (0, 1))(x, kernel)
  assert rel(got[0], want[0]) < 1e-5 and rel(got[1], want[1]) < 1e-5


def test_bfloat16_keeps_dtypes_and_matches_xla_in_bfloat16():
  x, kernel = arrays(16, 16, 64, 32, 4, seed=5, dtype=jnp.bfloat16)
  padding = ((1, 1), (1, 1))
  loss = lambda conv: lambda x, kernel: jnp.sum(conv(x, kernel, (2, 2), padding).astype(jnp.float32) ** 2)
  want = jax.grad(loss(lax_conv), (0, 1))(x, kernel)
  got = jax.grad(loss(library_conv), (0, 1))(x, kernel)
  assert got[0].dtype == got[1].dtype == jnp.bfloat16
  # Both round to bf16 (8 bits of mantissa) in different orders.
  assert rel(got[0].astype(jnp.float32), want[0].astype(jnp.float32)) < 2e-2
  np.testing.assert_array_equal(got[1], want[1])


@pytest.mark.parametrize("shape, strides, padding, k", [
    ((3, 8, 8, 64), (1, 1), ((1, 1), (1, 1)), 4),   # stride 1
    ((3, 8, 8, 3), (2, 2), ((1, 1), (1, 1)), 4),    # RGB input: XLA's gradient is faster
    ((3, 9, 9, 64), (2, 2), ((1, 1), (1, 1)), 4),   # odd size
    ((3, 8, 8, 64), (2, 2), ((0, 0), (0, 0)), 4),   # output not half the input
    ((3, 8, 8, 64), (2, 2), ((-1, 3), (-1, 3)), 4),  # negative padding (a crop)
    ((3, 8, 8, 64), (2, 2), "SAME", 4),             # string padding (the DCGAN's is explicit)
    ((3, 8, 8, 64), (2, 2), ((0, 0), (0, 0)), 1),  # a 1x1 kernel (a ResNet shortcut)
])
def test_other_convolutions_fall_through_to_xla(shape, strides, padding, k):
  w_shape = (k, k, shape[-1], 8)
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
  x = arrays(16, 16, 32, 1, 1)[0]
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


def test_dcgan_discriminator_takes_the_phase_path():
  """Its stride-2 layers after the RGB one compute the input gradient without zeros."""
  from aigc_jax.models import dcgan
  d = dcgan.Discriminator(resolution=32, base_features=16, norm="none")
  x = arrays(32, 32, 3, 1, 1)[0]
  variables = d.init(jax.random.key(0), x)
  jaxpr = str(jax.make_jaxpr(jax.grad(lambda x: jnp.sum(d.apply(variables, x))))(x))
  # Only the first layer (3 input channels, below MIN_PHASE_FEATURES) keeps XLA's
  # zero-dilated input gradient.
  assert jaxpr.count("lhs_dilation=(2, 2)") == 1
