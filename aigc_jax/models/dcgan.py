"""DCGAN generator and discriminator (Radford et al., 2016), as Flax Linen modules.

The default widths reproduce the seed's PyTorch DCGAN at 32x32: the generator maps a
latent vector through a 4x4 'valid' transposed convolution to `base_features * 2**(n-1)`
channels, then stride-2 4x4 transposed convolutions halve the width and double the size
until the image resolution, with BatchNorm + ReLU between and tanh at the end; the
discriminator mirrors it with stride-2 4x4 convolutions, LeakyReLU(0.2), BatchNorm on
all but the first, and a final 4x4 'valid' convolution to one logit. No layer has a bias
(BatchNorm's shift plays that role), as in the reference.

Options of the GAN family, all off by default (the defaults are the reference, with the
same parameters and names):
- conditioning on `y` [B, cond_dim], a one-hot class or multi-hot attribute vector:
  the generator concatenates a learned embedding of y to z (and, with `cbn`, uses
  conditional BatchNorm); the discriminator either concatenates y to its input as
  constant planes ("concat") or adds the projection term <embed(y), sum_hw features>
  to its logit ("projection", Miyato & Koyama, 2018);
- the discriminator's normalisation (`norm`: "batch", "layer" or "none"; convolutions
  get biases when it is not BatchNorm) and spectral normalisation of its weights.

Images are NHWC float32 in [-1, 1]. The resolution must be 4 * 2**k with k >= 1.
BatchNorm momentum is 0.9, PyTorch's default of 0.1 written the Flax way.

Speed: the generator computes its transposed convolutions without multiplying the
zeros of an input-dilated convolution (`upsample="subpixel"`, the default; see
`aigc_jax.models.upsample`). The same parameters, names and function as the
straightforward `nn.ConvTranspose` layers, which `upsample="dilated"` keeps (tests check
that both give the same images). `dtype` is the dtype the networks compute in
("bfloat16" for mixed precision); parameters stay float32 and the outputs (images,
logits) are float32 whatever it is.
"""

import math
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from aigc_jax.models import downsample, layers, upsample as up

# PyTorch's ConvTranspose2d(k=4, s=2, p=1) doubles the size; as a fractionally strided
# convolution that is padding k - 1 - p = 2 on each side of the dilated input (both axes).
_UP_PADDING = (2, 2)
# PyTorch's DCGAN initialises conv weights from N(0, 0.02), BatchNorm scale from N(1, 0.02).
_conv_init = nn.initializers.normal(0.02)
# Discriminator conditioning modes (`conditioning`).
D_CONDITIONING = ("concat", "projection")


def num_stages(resolution: int) -> int:
  """Number of stride-2 stages between 4x4 and `resolution` (3 for 32x32)."""
  k = int(round(math.log2(resolution / 4))) if resolution >= 8 else 0
  if k < 1 or 4 * 2**k != resolution:
    raise ValueError(f"DCGAN resolution must be 4 * 2**k with k >= 1 (8, 16, 32, 64, ...), got {resolution}")
  return k


class Generator(nn.Module):
  """Latent `z` [B, latent_dim] (and condition `y` [B, cond_dim]) -> images [B, R, R, C] in [-1, 1].

  With `cond_dim > 0`, `y` is required: a bias-free Dense layer maps it to an
  `embed_dim`-vector (for a one-hot y, a learned per-class embedding, initialised N(0, 1)
  like z) that is concatenated to z; with `cbn` every BatchNorm is also conditional.
  `upsample` names the lowering of the transposed convolutions (`upsample.LOWERINGS`).
  """
  resolution: int = 32
  channels: int = 3
  base_features: int = 64
  cond_dim: int = 0
  embed_dim: int = 32
  cbn: bool = False
  upsample: str = "subpixel"
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, z, y=None, train: bool = True):
    n = num_stages(self.resolution)
    if self.upsample not in up.LOWERINGS:
      raise ValueError(f"unknown upsample {self.upsample!r}; choose one of {', '.join(up.LOWERINGS)}")
    if self.cond_dim:
      y = _check_condition(y, z.shape[0], self.cond_dim)
      embedding = nn.Dense(self.embed_dim, use_bias=False, kernel_init=nn.initializers.normal(1.0),
                           dtype=self.dtype, name="embed")(y)
      z = jnp.concatenate([z.astype(embedding.dtype), embedding], axis=-1)
    # The layers keep the names nn.ConvTranspose would get, so that both lowerings have
    # the same parameter tree (and, from one key, the same initial values).
    width = self.base_features * 2**(n - 1)
    if self.upsample == "dilated":
      x = nn.ConvTranspose(width, (4, 4), padding="VALID", use_bias=False, kernel_init=_conv_init,
                           dtype=self.dtype, name="ConvTranspose_0")(z.reshape(z.shape[0], 1, 1, z.shape[-1]))
    else:
      x = up.LatentProjection(width, kernel_init=_conv_init, dtype=self.dtype, name="ConvTranspose_0")(z)
    for i in range(n):
      if self.cbn and self.cond_dim:
        x = layers.ConditionalBatchNorm(use_running_average=not train, dtype=self.dtype)(x, y)
      else:
        x = layers.BatchNorm(use_running_average=not train, scale_init=layers.bn_scale_init, dtype=self.dtype)(x)
      x = nn.relu(x)
      features = self.channels if i == n - 1 else self.base_features * 2**(n - 2 - i)
      x = up.conv_transpose_layer(self.upsample, features, 4, _UP_PADDING, kernel_init=_conv_init,
                                  dtype=self.dtype, name=f"ConvTranspose_{i + 1}")(x)
    return jnp.tanh(x).astype(jnp.float32)


class Discriminator(nn.Module):
  """Images [B, H, W, C] in [-1, 1] (and condition `y` [B, cond_dim]) -> one logit per image, [B].

  `norm` names the normalisation after every convolution but the first (see
  `layers.NORMS`); `spectral_norm` divides every weight by its largest singular value,
  which needs `mutable=['batch_stats']` in training (see `layers.spectral`). The stride-2
  convolutions compute their input gradient in phase form (`downsample.stride2_conv`):
  the same function and derivatives, faster on CPU.
  """
  resolution: int = 32
  base_features: int = 64
  norm: str = "batch"
  spectral_norm: bool = False
  cond_dim: int = 0
  conditioning: str = "projection"
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, y=None, train: bool = True):
    n = num_stages(self.resolution)
    if self.norm not in layers.NORMS:
      raise ValueError(f"unknown discriminator norm {self.norm!r}; choose one of {', '.join(layers.NORMS)}")
    if self.cond_dim and self.conditioning not in D_CONDITIONING:
      raise ValueError(f"unknown conditioning {self.conditioning!r}; choose one of {', '.join(D_CONDITIONING)}")
    if self.cond_dim:
      y = _check_condition(y, x.shape[0], self.cond_dim).astype(x.dtype)
    if self.cond_dim and self.conditioning == "concat":
      planes = jnp.broadcast_to(y[:, None, None, :], x.shape[:3] + (self.cond_dim,))
      x = jnp.concatenate([x, planes], axis=-1)
    use_bias = self.norm != "batch"  # Only BatchNorm's shift stands in for a bias.
    norm = layers.NORMS[self.norm]
    sn = lambda layer, h: layers.spectral(layer, h, enabled=self.spectral_norm, update_stats=train)
    for i in range(n):
      x = sn(nn.Conv(self.base_features * 2**i, (4, 4), strides=(2, 2), padding=((1, 1), (1, 1)),
                     use_bias=use_bias, kernel_init=_conv_init, dtype=self.dtype,
                     conv_general_dilated=downsample.conv_general_dilated), x)
      if i > 0 and norm is not None:
        x = norm(train, self.dtype)(x)
      x = nn.leaky_relu(x, 0.2)
    features = x
    x = sn(nn.Conv(1, (4, 4), padding="VALID", use_bias=use_bias, kernel_init=_conv_init, dtype=self.dtype), x)
    logits = x.reshape(x.shape[0]).astype(jnp.float32)
    if self.cond_dim and self.conditioning == "projection":
      pooled = jnp.sum(features.astype(jnp.float32), axis=(1, 2))  # [B, C]
      embedding = sn(nn.Dense(pooled.shape[-1], use_bias=False, kernel_init=_conv_init, name="projection"), y)
      logits = logits + jnp.sum(embedding * pooled, axis=-1)
    return logits


def _check_condition(y, batch: int, cond_dim: int):
  if y is None:
    raise ValueError(f"this model is conditional: pass y [B, {cond_dim}]")
  if y.shape != (batch, cond_dim):
    raise ValueError(f"expected a condition y of shape ({batch}, {cond_dim}), got {y.shape}")
  return y
