import flax.linen as nn
import jax
import numpy as np
import pytest

from aigc_jax.models.upsample import SubpixelConvTranspose


@pytest.mark.parametrize("shape", [(2, 4, 4, 8), (3, 5, 7, 3), (1, 1, 1, 16)])
def test_equals_the_dilated_transposed_convolution(shape):
  x = jax.random.normal(jax.random.key(0), shape)
  reference = nn.ConvTranspose(6, (4, 4), strides=(2, 2), padding=((2, 2), (2, 2)), use_bias=False)
  variables = reference.init(jax.random.key(1), x)
  expected = reference.apply(variables, x)
  got = SubpixelConvTranspose(6).apply(variables, x)  # The very same parameters.
  assert got.shape == expected.shape == (shape[0], 2 * shape[1], 2 * shape[2], 6)
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_gradients_equal_too():
  x = jax.random.normal(jax.random.key(0), (2, 4, 4, 5))
  reference = nn.ConvTranspose(3, (4, 4), strides=(2, 2), padding=((2, 2), (2, 2)), use_bias=False)
  variables = reference.init(jax.random.key(1), x)
  loss = lambda module: jax.grad(lambda v, x: (module.apply(v, x) ** 2).sum(), argnums=(0, 1))(variables, x)
  for a, b in zip(jax.tree.leaves(loss(reference)), jax.tree.leaves(loss(SubpixelConvTranspose(3)))):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
