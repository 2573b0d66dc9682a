"""Layers shared by model families: conditional BatchNorm, a spectral-norm switch, norms.

Conditions are float vectors `y` [B, K]: a one-hot vector for a class label (so a
bias-free Dense layer on it is exactly a learned per-class embedding table) or a
multi-hot vector for attributes (the sum of the embeddings of the attributes present).
"""

import functools
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

# BatchNorm as in the DCGAN reference: PyTorch's momentum 0.1 written the Flax way. With a
# bfloat16 `dtype` it still reduces (and keeps its running statistics) in float32.
BatchNorm = functools.partial(nn.BatchNorm, momentum=0.9, epsilon=1e-5)


def bn_scale_init(key, shape, dtype=jnp.float32):
  """PyTorch's DCGAN initialises BatchNorm scales from N(1, 0.02)."""
  return 1.0 + 0.02 * nn.initializers.normal(1.0)(key, shape, dtype)


def spectral(layer: nn.Module, x, *, enabled: bool, update_stats: bool):
  """`layer(x)`, with the layer's weights divided by their largest singular value if enabled.

  Flax's `nn.SpectralNorm` keeps each weight's power-iteration vector `u` (and the last
  `sigma`) in the 'batch_stats' collection: in training, pass `update_stats=True` and
  apply with `mutable=['batch_stats']`, so that one power iteration per call refines `u`
  across steps (Miyato et al., 2018); in evaluation pass `update_stats=False`. The
  layer's own parameters keep their names, so enabling it adds no parameters.
  """
  if not enabled:
    return layer(x)
  return nn.SpectralNorm(layer)(x, update_stats=update_stats)


class ConditionalBatchNorm(nn.Module):
  """BatchNorm whose scale and shift are functions of the condition (de Vries et al., 2017).

  x [B, H, W, C], y [B, K] -> [B, H, W, C]: normalise with batch (train) or running
  (eval) statistics, then `x * (1 + gamma(y)) + beta(y)` with gamma, beta bias-free Dense
  layers of y. gamma starts near 0 (N(0, 0.02), like the DCGAN's BatchNorm scale around
  1) and beta at 0, so at initialisation it is plain BatchNorm.
  """
  use_running_average: bool = False
  dtype: Any = None  # The computation's dtype; None: that of the inputs.

  @nn.compact
  def __call__(self, x, y):
    c = x.shape[-1]
    x = BatchNorm(use_running_average=self.use_running_average, use_scale=False, use_bias=False,
                  dtype=self.dtype)(x)
    gamma = nn.Dense(c, use_bias=False, kernel_init=nn.initializers.normal(0.02), dtype=self.dtype,
                     name="gamma")(y)
    beta = nn.Dense(c, use_bias=False, kernel_init=nn.initializers.zeros, dtype=self.dtype, name="beta")(y)
    return x * (1.0 + gamma[:, None, None, :]) + beta[:, None, None, :]


def _layer_norm(train: bool, dtype=None):
  del train  # Per-example statistics: the same in training and evaluation.
  # Normalise each example over H, W and C (as WGAN-GP's critic does), with a learned
  # per-channel scale and shift.
  return nn.LayerNorm(reduction_axes=(-3, -2, -1), feature_axes=-1, epsilon=1e-5, dtype=dtype)


def _batch_norm(train: bool, dtype=None):
  return BatchNorm(use_running_average=not train, scale_init=bn_scale_init, dtype=dtype)


# Discriminator normalisations by name (`model.d_norm`): factories
# `(train, dtype=None) -> callable`, dtype the computation's (None: the input's).
# None means no normalisation. BatchNorm mixes the examples of a batch, which a
# per-example gradient penalty (WGAN-GP, R1) assumes does not happen.
NORMS = {
    "batch": _batch_norm,
    "layer": _layer_norm,
    "none": None,
}
