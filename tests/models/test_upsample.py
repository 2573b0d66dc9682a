import flax.linen as nn
import jax
import numpy as np
import pytest

from aigc_jax.models import upsample
from aigc_jax.models.upsample import LatentProjection, SubpixelConvTranspose


@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("shape", [(2, 4, 4, 8), (3, 5, 7, 3), (1, 1, 1, 16)])
def test_equals_the_dilated_transposed_convolution(shape, fused):
  x = jax.random.normal(jax.random.key(0), shape)
  reference = nn.ConvTranspose(6, (4, 4), strides=(2, 2), padding=((2, 2), (2, 2)), use_bias=False)
  variables = reference.init(jax.random.key(1), x)
  expected = reference.apply(variables, x)
  got = SubpixelConvTranspose(6, fused=fused).apply(variables, x)  # The very same parameters.
  assert got.shape == expected.shape == (shape[0], 2 * shape[1], 2 * shape[2], 6)
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(upsample.dilated_conv_transpose(x, variables["params"]["kernel"]), expected,
                             rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("fused", [False, True])
def test_gradients_equal_too(fused):
  x = jax.random.normal(jax.random.key(0), (2, 4, 4, 5))
  reference = nn.ConvTranspose(3, (4, 4), strides=(2, 2), padding=((2, 2), (2, 2)), use_bias=False)
  variables = reference.init(jax.random.key(1), x)
  loss = lambda module: jax.grad(lambda v, x: (module.apply(v, x) ** 2).sum(), argnums=(0, 1))(variables, x)
  for a, b in zip(jax.tree.leaves(loss(reference)), jax.tree.leaves(loss(SubpixelConvTranspose(3, fused=fused)))):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_latent_projection_equals_the_valid_transposed_convolution():
  z = jax.random.normal(jax.random.key(0), (3, 5))
  reference = nn.ConvTranspose(6, (4, 4), padding="VALID", use_bias=False)
  variables = reference.init(jax.random.key(1), z.reshape(3, 1, 1, 5))
  expected = reference.apply(variables, z.reshape(3, 1, 1, 5))
  np.testing.assert_allclose(LatentProjection(6).apply(variables, z), expected, rtol=1e-5, atol=1e-6)


def test_same_initial_kernel_as_conv_transpose_under_the_same_name():
  x = np.zeros((1, 4, 4, 8), np.float32)
  reference = nn.ConvTranspose(6, (4, 4), strides=(2, 2), padding=((2, 2), (2, 2)), use_bias=False)
  a = reference.init(jax.random.key(3), x)
  b = SubpixelConvTranspose(6, kernel_init=nn.initializers.lecun_normal()).init(jax.random.key(3), x)
  np.testing.assert_array_equal(a["params"]["kernel"], b["params"]["kernel"])


@pytest.mark.parametrize("kernel,padding,transpose_kernel", [
    (3, ((1, 2), (1, 2)), True),  # CycleGAN's: PyTorch's ConvTranspose2d(3, 2, 1, output_padding=1).
    (4, "SAME", False),  # The VAE decoder's.
    (4, ((2, 2), (2, 2)), True),
])
def test_other_kernels_paddings_and_biases(kernel, padding, transpose_kernel):
  x = jax.random.normal(jax.random.key(0), (2, 5, 6, 4))
  reference = nn.ConvTranspose(3, (kernel, kernel), strides=(2, 2), padding=padding,
                               transpose_kernel=transpose_kernel, bias_init=nn.initializers.normal(1.0))
  variables = reference.init(jax.random.key(1), x)
  pad = (2, 2) if padding == "SAME" else padding[0]
  fast = SubpixelConvTranspose(3, kernel, padding=pad, transpose_kernel=transpose_kernel, use_bias=True)
  assert jax.tree.map(np.shape, fast.init(jax.random.key(1), x)) == jax.tree.map(np.shape, variables)
  np.testing.assert_allclose(fast.apply(variables, x), reference.apply(variables, x), rtol=1e-5, atol=1e-5)


def test_padding_that_does_not_double_is_an_error():
  with pytest.raises(ValueError, match="does not double"):
    upsample.conv_transpose_phases(np.zeros((1, 4, 4, 2), np.float32), np.zeros((4, 4, 2, 3), np.float32), (1, 1))


def test_vae_decoder_and_cyclegan_generator_equal_their_dilated_versions():
  from aigc_jax.models import cyclegan, vae
  z = jax.random.normal(jax.random.key(0), (2, 4))
  decoders = [vae.ConvDecoder(resolution=8, channels=1, num_params=2, features=(4, 8), hidden=8, upsample=u)
              for u in ("subpixel", "dilated")]
  x = jax.random.uniform(jax.random.key(0), (1, 16, 16, 3), minval=-1, maxval=1)
  generators = [cyclegan.ResnetGenerator(ngf=4, n_blocks=1, upsample=u) for u in ("subpixel", "dilated")]
  for (fast, plain), inputs in ((decoders, z), (generators, x)):
    variables = plain.init(jax.random.key(1), inputs)
    fast_vars = fast.init(jax.random.key(1), inputs)
    for a, b in zip(jax.tree.leaves(fast_vars), jax.tree.leaves(variables)):
      np.testing.assert_array_equal(a, b)  # Same parameters from the same key.
    np.testing.assert_allclose(fast.apply(variables, inputs), plain.apply(variables, inputs), rtol=1e-5, atol=1e-5)
