"""Variational autoencoders (Kingma & Welling, 2014) as Flax Linen modules.

A `VAE` pairs an encoder, images -> the mean and log-variance of a diagonal Gaussian
posterior q(z | x), with a decoder, latents -> the parameters of a per-subpixel pixel
distribution p(x | z). The modules compute these outputs and nothing else: the noise of
the reparameterised sample comes in as an argument (`eps`), and the likelihoods, the KL
and the bounds live in `aigc_jax.vae_losses`.

Conditioning (a conditional VAE, Sohn et al., 2015): pass `cond`, float [B, K] (a one-hot
label), to both halves. The encoder sees it as K constant extra input channels (the MLP
as K extra inputs); the decoder sees it joined to the latent vector.

Images are NHWC float32 in [-1, 1]. The decoder returns [B, H, W, C, num_params]: the
number of parameters per subpixel is set by the pixel model (1 for Bernoulli logits, 2
for a location and log-scale).

`conv_vae` and `mlp_vae` build the two families; `MODELS` names them for configs. Their
`dtype` is the dtype the networks compute in (bfloat16 for mixed precision): parameters
stay float32, and the outputs (mean, logvar, pixel parameters) are float32 whatever it is.
"""

from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from aigc_jax.models import upsample as up


def _join_condition_channels(x, cond):
  """x [B, H, W, C], cond [B, K] -> [B, H, W, C + K] with cond constant over space."""
  if cond is None:
    return x
  b, h, w, _ = x.shape
  tiled = jnp.broadcast_to(cond[:, None, None, :].astype(x.dtype), (b, h, w, cond.shape[-1]))
  return jnp.concatenate([x, tiled], axis=-1)


def _join_condition(v, cond):
  """v [B, N], cond [B, K] or None -> [B, N + K]."""
  return v if cond is None else jnp.concatenate([v, cond.astype(v.dtype)], axis=-1)


def _gaussian_heads(x, latent_dim: int, dtype):
  """The posterior's (mean, logvar) from features x [B, N], each float32 [B, latent_dim]."""
  mean = nn.Dense(latent_dim, dtype=dtype, name="mean")(x)
  logvar = nn.Dense(latent_dim, dtype=dtype, name="logvar")(x)
  return mean.astype(jnp.float32), logvar.astype(jnp.float32)


class ConvEncoder(nn.Module):
  """x [B, R, R, C] in [-1, 1] (+ cond [B, K]) -> (mean, logvar), each float [B, latent_dim].

  One stride-2 3x3 convolution per entry of `features` halves the resolution; a dense
  layer of width `hidden` follows.
  """
  latent_dim: int
  features: Sequence[int] = (32, 64)
  hidden: int = 256
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, cond=None):
    x = _join_condition_channels(x, cond)
    for f in self.features:
      x = nn.swish(nn.Conv(f, (3, 3), strides=(2, 2), dtype=self.dtype)(x))
    x = nn.swish(nn.Dense(self.hidden, dtype=self.dtype)(x.reshape(x.shape[0], -1)))
    return _gaussian_heads(x, self.latent_dim, self.dtype)


class ConvDecoder(nn.Module):
  """z [B, latent_dim] (+ cond [B, K]) -> pixel parameters [B, R, R, C, num_params].

  The mirror of `ConvEncoder`: a dense layer to a (R / 2**n)-square map with
  `features[-1]` channels, then one stride-2 4x4 transposed convolution per entry of
  `features` (last to first), and a 3x3 convolution to `channels * num_params`.
  `upsample` "subpixel" computes the transposed convolutions as four phase convolutions
  (`aigc_jax.models.upsample`), "dilated" as `nn.ConvTranspose`: the same function and
  parameters.
  """
  resolution: int
  channels: int
  num_params: int
  features: Sequence[int] = (32, 64)
  hidden: int = 256
  upsample: str = "subpixel"
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, z, cond=None):
    n = len(self.features)
    size = self.resolution // 2**n
    if size * 2**n != self.resolution:
      raise ValueError(f"resolution {self.resolution} is not divisible by 2**{n} "
                       f"(one halving per entry of features={tuple(self.features)})")
    x = nn.swish(nn.Dense(self.hidden, dtype=self.dtype)(_join_condition(z, cond)))
    x = nn.swish(nn.Dense(size * size * self.features[-1], dtype=self.dtype)(x))
    x = x.reshape(x.shape[0], size, size, self.features[-1])
    for i, f in enumerate(reversed(self.features)):
      # Padding 2 on the dilated input is Flax's "SAME" for a 4x4 stride-2 transposed
      # convolution; named as nn.ConvTranspose is, in both lowerings.
      x = nn.swish(up.conv_transpose_layer(self.upsample, f, 4, (2, 2), use_bias=True, fused=False,
                                           dtype=self.dtype, name=f"ConvTranspose_{i}")(x))
    x = nn.Conv(self.channels * self.num_params, (3, 3), dtype=self.dtype)(x)
    return x.reshape(*x.shape[:3], self.channels, self.num_params).astype(jnp.float32)


class MLPEncoder(nn.Module):
  """x [B, R, R, C] (+ cond [B, K]) -> (mean, logvar) [B, latent_dim], through dense layers."""
  latent_dim: int
  hidden: Sequence[int] = (500,)
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, cond=None):
    x = _join_condition(x.reshape(x.shape[0], -1), cond)
    for width in self.hidden:
      x = nn.relu(nn.Dense(width, dtype=self.dtype)(x))
    return _gaussian_heads(x, self.latent_dim, self.dtype)


class MLPDecoder(nn.Module):
  """z [B, latent_dim] (+ cond [B, K]) -> pixel parameters [B, R, R, C, num_params]."""
  resolution: int
  channels: int
  num_params: int
  hidden: Sequence[int] = (500,)
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, z, cond=None):
    x = _join_condition(z, cond)
    for width in self.hidden:
      x = nn.relu(nn.Dense(width, dtype=self.dtype)(x))
    r, c, p = self.resolution, self.channels, self.num_params
    return nn.Dense(r * r * c * p, dtype=self.dtype)(x).reshape(x.shape[0], r, r, c, p).astype(jnp.float32)


class VAE(nn.Module):
  """An encoder and a decoder; `__call__` runs both on one reparameterised sample.

  `__call__(x, eps, cond)`: x [B, R, R, C] in [-1, 1], eps float [B, latent_dim] of
  standard normal noise -> (pixel parameters [B, R, R, C, P], mean, logvar). Use
  `encode` and `decode` (`apply(..., method="encode")`) to run one half, e.g. to decode
  many latent samples per image for the importance-weighted bound.
  """
  encoder: nn.Module
  decoder: nn.Module

  def encode(self, x, cond=None):
    return self.encoder(x, cond)

  def decode(self, z, cond=None):
    return self.decoder(z, cond)

  def __call__(self, x, eps, cond=None):
    mean, logvar = self.encode(x, cond)
    z = mean + jnp.exp(0.5 * logvar) * eps
    return self.decode(z, cond), mean, logvar


def conv_vae(*, resolution: int, channels: int, latent_dim: int, num_params: int,
             features: Sequence[int] = (32, 64), hidden: int = 256, upsample: str = "subpixel",
             dtype: Any = jnp.float32) -> VAE:
  """A convolutional VAE; `features` gives the widths of its stride-2 stages."""
  features = tuple(features)
  return VAE(encoder=ConvEncoder(latent_dim=latent_dim, features=features, hidden=hidden, dtype=dtype),
             decoder=ConvDecoder(resolution=resolution, channels=channels, num_params=num_params,
                                 features=features, hidden=hidden, upsample=upsample, dtype=dtype))


def mlp_vae(*, resolution: int, channels: int, latent_dim: int, num_params: int,
            hidden: Sequence[int] = (500,), dtype: Any = jnp.float32) -> VAE:
  """An MLP VAE (the Flax example's model is hidden=(500,), latent_dim=20, Bernoulli)."""
  hidden = tuple(hidden)
  return VAE(encoder=MLPEncoder(latent_dim=latent_dim, hidden=hidden, dtype=dtype),
             decoder=MLPDecoder(resolution=resolution, channels=channels, num_params=num_params,
                                hidden=hidden, dtype=dtype))


# config.model.name -> factory.
MODELS = {"conv": conv_vae, "mlp": mlp_vae}
