"""The PatchGAN discriminator (Isola et al., 2017), as in the authors' PyTorch release.

It scores overlapping patches rather than whole images: the discriminator of CycleGAN
(`netD basic`), of pix2pix and of the restoration family. The release's layers and
initialisation, so weights map one to one: 4x4 convolutions with biases, weights from
N(0, 0.02), instance normalisation without learned scale or shift (`InstanceNorm2d(
affine=False)`, epsilon 1e-5, exact two-pass variance), LeakyReLU(0.2), one row of zero
padding on each side. `dtype` is the computation's dtype; parameters stay float32 and
scores come out as float32.
"""

import functools
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

conv_init = nn.initializers.normal(0.02)
Conv = functools.partial(nn.Conv, kernel_init=conv_init, bias_init=nn.initializers.zeros)
InstanceNorm = functools.partial(nn.InstanceNorm, epsilon=1e-5, use_scale=False, use_bias=False,
                                 use_fast_variance=False)
# The 4x4 convolutions pad one row of zeros on each side.
_PADDING = ((1, 1), (1, 1))


class PatchDiscriminator(nn.Module):
  """Images [B, H, W, C] -> patch scores [B, h, w, 1] (h = H/8 - 2 for H divisible by 8).

  `n_layers` = 3 is the 70x70 PatchGAN: C64 (no norm), C128, C256 with stride 2, C512
  with stride 1, then a stride-1 convolution to one channel; all 4x4 kernels, instance
  norm and LeakyReLU(0.2) after each hidden convolution. Widths are capped at 8 * ndf.
  """
  ndf: int = 64
  n_layers: int = 3
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    dt = self.dtype
    x = nn.leaky_relu(Conv(self.ndf, (4, 4), strides=(2, 2), padding=_PADDING, dtype=dt)(x), 0.2)
    for n in range(1, self.n_layers + 1):
      stride = 2 if n < self.n_layers else 1
      x = Conv(self.ndf * min(2**n, 8), (4, 4), strides=(stride, stride), padding=_PADDING, dtype=dt)(x)
      x = nn.leaky_relu(InstanceNorm(dtype=dt)(x), 0.2)
    return Conv(1, (4, 4), padding=_PADDING, dtype=dt)(x).astype(jnp.float32)
