"""Spectral normalization of the discriminator: after power iterations the normalised
weights have spectral norm ~1, and the iteration vectors live in 'batch_stats'."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from aigc_jax.models import dcgan, layers


class _Dense(nn.Module):
  @nn.compact
  def __call__(self, x, train):
    return layers.spectral(nn.Dense(5, use_bias=False), x, enabled=True, update_stats=train)


def test_normalised_weight_has_spectral_norm_one():
  model = _Dense()
  eye = jnp.eye(7)  # Applying the layer to I gives the normalised weight matrix.
  variables = model.init(jax.random.key(0), eye, train=False)
  # A weight far from norm 1 (Flax stores the once-normalised weight at init).
  raw = 3.0 * np.asarray(jax.random.normal(jax.random.key(1), (7, 5)))
  variables = {**variables, "params": {"Dense_0": {"kernel": jnp.asarray(raw)}}}
  assert np.linalg.norm(raw, 2) > 3.0
  for _ in range(30):
    _, mutated = model.apply(variables, eye, train=True, mutable=["batch_stats"])
    variables = {**variables, **mutated}
  normalised = np.asarray(model.apply(variables, eye, train=False))
  np.testing.assert_allclose(np.linalg.norm(normalised, 2), 1.0, rtol=1e-3)
  sigma = variables["batch_stats"]["SpectralNorm_0"]["Dense_0/kernel/sigma"]
  np.testing.assert_allclose(sigma, np.linalg.norm(raw, 2), rtol=1e-3)


def test_discriminator_power_iteration_converges_and_eval_does_not_move_it():
  d = dcgan.Discriminator(resolution=8, base_features=4, norm="none", spectral_norm=True)
  x = jax.random.uniform(jax.random.key(1), (2, 8, 8, 1), minval=-1, maxval=1)
  variables = d.init(jax.random.key(0), x, train=False)
  assert set(variables["params"]) == {"Conv_0", "Conv_1"}  # SN adds no parameters.
  apply = jax.jit(lambda v: d.apply(v, x, train=True, mutable=["batch_stats"])[1])
  for _ in range(40):
    variables = {**variables, **apply(variables)}
  for i in range(2):
    kernel = np.asarray(variables["params"][f"Conv_{i}"]["kernel"])
    true_sigma = np.linalg.norm(kernel.reshape(-1, kernel.shape[-1]), 2)
    sigma = variables["batch_stats"][f"SpectralNorm_{i}"][f"Conv_{i}/kernel/sigma"]
    np.testing.assert_allclose(sigma, true_sigma, rtol=1e-2)
  out, mutated = d.apply(variables, x, train=False, mutable=["batch_stats"])
  for a, b in zip(jax.tree.leaves(mutated), jax.tree.leaves(variables["batch_stats"]), strict=True):
    np.testing.assert_array_equal(a, b)
  assert out.shape == (2,)
