"""Shapes of the VAE modules on tiny settings, with and without a class condition."""

import jax
import jax.numpy as jnp
import pytest

from aigc_jax.models import vae


@pytest.mark.parametrize("factory,kwargs", [
    (vae.conv_vae, {"features": (4, 8), "hidden": 16}),
    (vae.mlp_vae, {"hidden": (16, 8)}),
])
@pytest.mark.parametrize("num_classes", [0, 3])
def test_shapes(factory, kwargs, num_classes):
  model = factory(resolution=8, channels=3, latent_dim=5, num_params=2, **kwargs)
  x, eps = jnp.zeros((2, 8, 8, 3)), jnp.ones((2, 5))
  cond = jax.nn.one_hot(jnp.array([0, 2]), num_classes) if num_classes else None
  # Shapes only: traced with eval_shape, nothing is compiled.
  variables = jax.eval_shape(model.init, jax.random.key(0), x, eps, cond)
  params, mean, logvar = jax.eval_shape(model.apply, variables, x, eps, cond)
  assert params.shape == (2, 8, 8, 3, 2) and mean.shape == logvar.shape == (2, 5)
  z, c = jnp.zeros((7, 5)), None if cond is None else jnp.zeros((7, num_classes))
  assert jax.eval_shape(lambda v: model.apply(v, z, c, method="decode"), variables).shape == (7, 8, 8, 3, 2)


def test_decoder_rejects_a_resolution_it_cannot_halve():
  model = vae.conv_vae(resolution=10, channels=1, latent_dim=2, num_params=1, features=(4, 4), hidden=8)
  with pytest.raises(ValueError, match="not divisible"):
    jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 10, 10, 1)), jnp.zeros((1, 2)))
