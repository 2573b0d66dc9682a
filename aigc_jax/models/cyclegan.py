"""CycleGAN's networks (Zhu et al., 2017): the ResNet generator, and the 70x70 PatchGAN
(`aigc_jax.models.patchgan`, shared with the other image-to-image families).

Both follow the authors' PyTorch release with its CycleGAN defaults (`--netG
resnet_9blocks --netD basic --norm instance --no_dropout`, `--init_type normal
--init_gain 0.02`), layer for layer, so the parameter counts match: 11,378,179 for the
9-block generator and 2,764,737 for the discriminator (RGB, ngf = ndf = 64).

- Instance normalisation without learned scale or shift (the release's "instance" norm
  is `InstanceNorm2d(affine=False)`), epsilon 1e-5, exact two-pass variance.
- Every convolution has a bias, as in the release (it adds biases whenever the norm is
  instance norm). A bias right before instance norm is cancelled by the mean
  subtraction, but it is kept so that weights map one to one onto the original.
- Weights start from N(0, 0.02), biases at 0.
- The generator pads with reflection (7x7 convolutions at both ends, 3x3 in the
  residual blocks); the discriminator pads its 4x4 convolutions with one row of zeros.
- No dropout: the release's CycleGAN runs with `--no_dropout`.

Images are NHWC float32 in [-1, 1]. Both networks are fully convolutional: the generator
takes any height and width that are multiples of 4 (at least 8) and returns the same
size; the discriminator returns a map of patch scores [B, h, w, 1] (30x30 at 256x256),
each seeing a 70x70 receptive field, as raw scores (least-squares targets 1 and 0).

`dtype` is the dtype both networks compute in (bfloat16 for mixed precision); the
parameters stay float32, and images and scores come out as float32 whatever it is.
The generator's transposed convolutions run as four phase convolutions
(`upsample="subpixel"`, see `aigc_jax.models.upsample`), 7-10x faster on a CPU than
the input-dilated `nn.ConvTranspose` (`upsample="dilated"`), with the same parameters.
"""

from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from aigc_jax.models import upsample as up
from aigc_jax.models.patchgan import Conv, InstanceNorm, PatchDiscriminator, conv_init as _conv_init

# PyTorch's ConvTranspose2d(k=3, s=2, p=1, output_padding=1) doubles the size. As a
# fractionally strided convolution of the 2x-dilated input, that is k - 1 - p = 1 row of
# padding before and 1 + output_padding = 2 after; `transpose_kernel` makes the kernel
# layout and orientation PyTorch's (the gradient of a convolution).
_UP_PADDING = ((1, 2), (1, 2))


def reflect_pad(x, pad: int):
  """Pads H and W of NHWC `x` by mirroring, without repeating the edge (ReflectionPad2d)."""
  return jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")


class ResnetBlock(nn.Module):
  """x + [pad, conv3x3, norm, ReLU, pad, conv3x3, norm](x): same shape in and out."""
  dtype: Any = None  # The computation's dtype; None: that of the input.

  @nn.compact
  def __call__(self, x):
    features = x.shape[-1]
    y = Conv(features, (3, 3), padding="VALID", dtype=self.dtype)(reflect_pad(x, 1))
    y = nn.relu(InstanceNorm(dtype=self.dtype)(y))
    y = Conv(features, (3, 3), padding="VALID", dtype=self.dtype)(reflect_pad(y, 1))
    return x + InstanceNorm(dtype=self.dtype)(y)


class ResnetGenerator(nn.Module):
  """Images [B, H, W, C] -> images [B, H, W, out_channels] in [-1, 1].

  c7s1-ngf, two stride-2 3x3 downsamplings (2ngf, 4ngf), `n_blocks` residual blocks at
  4ngf, two stride-2 3x3 transposed-convolution upsamplings (2ngf, ngf), c7s1-out, tanh.
  The paper uses 9 blocks for 256x256 images and 6 for 128x128 or smaller.
  H and W must be multiples of 4 (the two downsamplings) and at least 8 (the
  reflection padding needs more pixels than it pads).
  """
  ngf: int = 64
  n_blocks: int = 9
  out_channels: int = 3
  upsample: str = "subpixel"  # Or "dilated": nn.ConvTranspose, the same function.
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    dt = self.dtype
    x = Conv(self.ngf, (7, 7), padding="VALID", dtype=dt)(reflect_pad(x.astype(dt), 3))
    x = nn.relu(InstanceNorm(dtype=dt)(x))
    for mult in (2, 4):
      x = Conv(self.ngf * mult, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)), dtype=dt)(x)
      x = nn.relu(InstanceNorm(dtype=dt)(x))
    for _ in range(self.n_blocks):
      x = ResnetBlock(dtype=dt)(x)
    for i, mult in enumerate((2, 1)):
      # Named as nn.ConvTranspose is, in both lowerings.
      x = up.conv_transpose_layer(self.upsample, self.ngf * mult, 3, _UP_PADDING[0], transpose_kernel=True,
                                  use_bias=True, kernel_init=_conv_init, dtype=dt, name=f"ConvTranspose_{i}")(x)
      x = nn.relu(InstanceNorm(dtype=dt)(x))
    x = Conv(self.out_channels, (7, 7), padding="VALID", dtype=dt)(reflect_pad(x, 3))
    return jnp.tanh(x).astype(jnp.float32)
