"""DCGAN generator and discriminator (Radford et al., 2016), as Flax Linen modules.

The default widths reproduce the seed's PyTorch DCGAN at 32x32: the generator maps a
latent vector through a 4x4 'valid' transposed convolution to `base_features * 2**(n-1)`
channels, then stride-2 4x4 transposed convolutions halve the width and double the size
until the image resolution, with BatchNorm + ReLU between and tanh at the end; the
discriminator mirrors it with stride-2 4x4 convolutions, LeakyReLU(0.2), BatchNorm on
all but the first, and a final 4x4 'valid' convolution to one logit. No layer has a bias
(BatchNorm's shift plays that role), as in the reference.

Images are NHWC float32 in [-1, 1]. The resolution must be 4 * 2**k with k >= 1.
BatchNorm momentum is 0.9, PyTorch's default of 0.1 written the Flax way.
"""

import functools
import math

import flax.linen as nn
import jax.numpy as jnp

# PyTorch's ConvTranspose2d(k=4, s=2, p=1) doubles the size; as a fractionally strided
# convolution that is padding k - 1 - p = 2 on each side of the dilated input.
_UP_PADDING = ((2, 2), (2, 2))
_BatchNorm = functools.partial(nn.BatchNorm, momentum=0.9, epsilon=1e-5)
# PyTorch's DCGAN initialises conv weights from N(0, 0.02), BatchNorm scale from N(1, 0.02).
_conv_init = nn.initializers.normal(0.02)


def _bn_scale_init(key, shape, dtype=jnp.float32):
  return 1.0 + 0.02 * nn.initializers.normal(1.0)(key, shape, dtype)


def num_stages(resolution: int) -> int:
  """Number of stride-2 stages between 4x4 and `resolution` (3 for 32x32)."""
  k = int(round(math.log2(resolution / 4))) if resolution >= 8 else 0
  if k < 1 or 4 * 2**k != resolution:
    raise ValueError(f"DCGAN resolution must be 4 * 2**k with k >= 1 (8, 16, 32, 64, ...), got {resolution}")
  return k


class Generator(nn.Module):
  """Latent `z` [B, latent_dim] -> images [B, resolution, resolution, channels] in [-1, 1]."""
  resolution: int = 32
  channels: int = 3
  base_features: int = 64

  @nn.compact
  def __call__(self, z, train: bool = True):
    n = num_stages(self.resolution)
    x = z.reshape(z.shape[0], 1, 1, z.shape[-1])
    x = nn.ConvTranspose(self.base_features * 2**(n - 1), (4, 4), padding="VALID",
                         use_bias=False, kernel_init=_conv_init)(x)
    for i in range(n):
      x = _BatchNorm(use_running_average=not train, scale_init=_bn_scale_init)(x)
      x = nn.relu(x)
      features = self.channels if i == n - 1 else self.base_features * 2**(n - 2 - i)
      x = nn.ConvTranspose(features, (4, 4), strides=(2, 2), padding=_UP_PADDING,
                           use_bias=False, kernel_init=_conv_init)(x)
    return jnp.tanh(x)


class Discriminator(nn.Module):
  """Images [B, H, W, C] in [-1, 1] -> one real/fake logit per image, shape [B]."""
  resolution: int = 32
  base_features: int = 64

  @nn.compact
  def __call__(self, x, train: bool = True):
    n = num_stages(self.resolution)
    for i in range(n):
      x = nn.Conv(self.base_features * 2**i, (4, 4), strides=(2, 2), padding=((1, 1), (1, 1)),
                  use_bias=False, kernel_init=_conv_init)(x)
      if i > 0:
        x = _BatchNorm(use_running_average=not train, scale_init=_bn_scale_init)(x)
      x = nn.leaky_relu(x, 0.2)
    x = nn.Conv(1, (4, 4), padding="VALID", use_bias=False, kernel_init=_conv_init)(x)
    return x.reshape(x.shape[0])
