"""pix2pix's U-Net generator (Isola et al., 2017), with an optional CRF as its last layer.

It follows the authors' PyTorch release (`--netG unet_256 --norm batch`, `--init_type
normal --init_gain 0.02`), block for block, so the parameter count matches: 54,413,955
for unet_256 with batch norm, 3 -> 3 channels, ngf = 64.

Level d = 0 .. n-1 (n = `num_downs`) halves the size with a 4x4 stride-2 convolution
(padding 1) to ngf * min(2^d, 8) channels: level 0 is a bare convolution of the input,
levels 1 .. n-2 are LeakyReLU(0.2), convolution, norm, and the innermost level n-1 is
LeakyReLU(0.2), convolution, with no norm (its output is 1x1 at the full resolution).
The decoder mirrors it: at each level ReLU, a 4x4 stride-2 transposed convolution
(PyTorch's padding 1) back to the width of the level above, norm, and the result is
concatenated after that level's encoder output (the skip connection, skip first as in
the release); the outermost level ends in a transposed convolution (with bias) to
`out_channels` and tanh.

- Dropout 0.5 follows the norm in the `dropout_blocks` (3) decoder blocks just outside
  the innermost one: at 256x256 (n = 8) these are the release's three 512-channel blocks
  (C512-CD512-CD512-CD512-C256-C128-C64 in the decoder). The release ties its dropout
  blocks to the 512-channel ones (`num_downs - 5` of them), which leaves unet_128 two
  and the small U-Nets used here none; counting from the innermost keeps the paper's
  "first three decoder layers" at every size.
- Normalisation by name: "batch" (the pix2pix default; BatchNorm with PyTorch's momentum
  0.1, epsilon 1e-5, scale from N(1, 0.02)) or "instance" (the release's
  `InstanceNorm2d(affine=False)`). Convolutions followed by a norm have a bias only with
  instance norm, as in the release; the last transposed convolution always has one.
- Weights start from N(0, 0.02), biases at 0.

`num_downs` is fixed when the model is built (it sets the parameters): `levels_for(
resolution)` derives it from the training resolution, 8 at 256 as in unet_256 (bottleneck
1x1), 4 at 16, at most 8. The network then takes any height and width that are
multiples of 2^num_downs (pad, translate, crop back for other sizes).

`train` picks BatchNorm's batch statistics (updating the running ones: apply with
`mutable=["batch_stats"]`) over the running averages; `dropout` switches the dropout
on (it needs a "dropout" rng). They are separate because pix2pix's paper tests with both
on, while the common alternative turns both off. Instance norm is the same either way.

With `crf` set (a `aigc_jax.crf.CRFOptions`), the tanh output is refined by a
`aigc_jax.crf.CRFLayer` guided by the input image, trained end to end.

Images are NHWC float32 in [-1, 1]; `dtype` is the computation's dtype (bfloat16 for
mixed precision), parameters stay float32, the output is float32.
"""

import functools
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from aigc_jax import crf as crf_lib
from aigc_jax.errors import UserError
from aigc_jax.models import layers
from aigc_jax.models import upsample as up
# The release's instance norm (no affine parameters), as in the PatchGAN and CycleGAN.
from aigc_jax.models.patchgan import InstanceNorm

MAX_LEVELS = 8  # unet_256: 256 -> 1x1 at the bottleneck.
NORMS = ("batch", "instance")

_conv_init = nn.initializers.normal(0.02)
_PADDING = ((1, 1), (1, 1))


def levels_for(resolution: int) -> int:
  """The U-Net depth for square images of side `resolution`: the number of halvings
  that divide it, at most 8 (so 8 at 256, 6 at 64, 4 at 16 and 4 at 48). Raises
  UserError below 2 (the resolution must be a multiple of 4)."""
  levels = 0
  while levels < MAX_LEVELS and resolution % 2 ** (levels + 1) == 0:
    levels += 1
  if levels < 2:
    raise UserError(f"a U-Net needs a resolution that is a multiple of 4, got {resolution}")
  return levels


def width(ngf: int, level: int) -> int:
  """The channels of encoder level `level`: ngf * min(2^level, 8)."""
  return ngf * min(2 ** level, 8)


class UnetGenerator(nn.Module):
  """Images [B, H, W, Cin] -> images [B, H, W, out_channels] in [-1, 1] (see the module
  docstring); H and W multiples of 2^num_downs."""
  num_downs: int = MAX_LEVELS
  out_channels: int = 3
  ngf: int = 64
  norm: str = "batch"
  dropout_blocks: int = 3
  dropout_rate: float = 0.5
  crf: crf_lib.CRFOptions | None = None
  upsample: str = "subpixel"  # Or "dilated": nn.ConvTranspose, the same function.
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, *, train: bool = False, dropout: bool = False):
    n, dt = self.num_downs, self.dtype
    if n < 2:
      raise ValueError(f"num_downs must be at least 2, got {n}")
    if self.norm not in NORMS:
      raise UserError(f"unknown norm {self.norm!r}; choose one of {', '.join(NORMS)}")
    _, h, w, _ = x.shape
    if h % 2 ** n or w % 2 ** n:
      raise ValueError(f"a {n}-level U-Net needs sizes that are multiples of {2 ** n}, got {h}x{w}")
    instance = self.norm == "instance"
    if instance:
      norm = lambda name: InstanceNorm(dtype=dt, name=name)
    else:
      norm = lambda name: layers.BatchNorm(use_running_average=not train, scale_init=layers.bn_scale_init,
                                           dtype=dt, name=name)
    conv = functools.partial(nn.Conv, kernel_size=(4, 4), strides=(2, 2), padding=_PADDING,
                             kernel_init=_conv_init, dtype=dt)
    up_conv = lambda features, use_bias, name: up.conv_transpose_layer(
        self.upsample, features, 4, (2, 2), transpose_kernel=True, use_bias=use_bias, kernel_init=_conv_init,
        dtype=dt, name=name)

    skips = []
    y = x.astype(dt)
    for d in range(n):
      if d > 0:
        y = nn.leaky_relu(y, 0.2)
      y = conv(width(self.ngf, d), use_bias=instance, name=f"down_{d}")(y)
      if 0 < d < n - 1:
        y = norm(f"down_norm_{d}")(y)
      skips.append(y)

    # Decoder block d maps level d's output back to level d - 1's size and width.
    first_dropout = max(1, n - 1 - self.dropout_blocks)
    for d in range(n - 1, 0, -1):
      y = up_conv(width(self.ngf, d - 1), instance, f"up_{d}")(nn.relu(y))
      y = norm(f"up_norm_{d}")(y)
      if first_dropout <= d < n - 1:
        y = nn.Dropout(self.dropout_rate, deterministic=not dropout)(y)
      y = jnp.concatenate([skips[d - 1], y], axis=-1)
    out = jnp.tanh(up_conv(self.out_channels, True, "up_0")(nn.relu(y))).astype(jnp.float32)
    if self.crf is not None:  # Guided by the input image, the condition.
      out = crf_lib.CRFLayer(self.crf, name="crf")(out, x.astype(jnp.float32))
    return out
