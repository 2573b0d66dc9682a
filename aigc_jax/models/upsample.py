"""A stride-2, 4x4 transposed convolution computed as four 2x2 convolutions.

The straightforward lowering of a transposed convolution dilates the input with zeros
and runs an ordinary convolution over it, so three quarters of the multiply-adds hit
zeros (and XLA's CPU backend is slow on input-dilated convolutions, forward and
backward). Each output pixel of a stride-2, 4x4 transposed convolution depends on a 2x2
input window and on the 2x2 sub-kernel of its phase (row parity, column parity). This
module computes the four phases as plain 2x2 convolutions and interleaves them
(depth-to-space): the same function, with the same parameter (`kernel`, HWIO [4, 4, in,
out]), as `flax.linen.ConvTranspose(features, (4, 4), strides=(2, 2),
padding=((2, 2), (2, 2)), use_bias=False)`, which is PyTorch's
`ConvTranspose2d(k=4, s=2, p=1)` up to the kernel's layout. Tests check the equality.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

_DN = ("NHWC", "HWIO", "NHWC")


def subpixel_conv_transpose(x, kernel):
  """x [B, H, W, Cin], kernel [4, 4, Cin, Cout] -> [B, 2H, 2W, Cout]."""
  b, h, w, _ = x.shape
  padded = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
  # Output row 2m + a reads input rows (m - 1, m) for a = 0 with kernel rows (0, 2), and
  # (m, m + 1) for a = 1 with kernel rows (1, 3); columns likewise.
  phases = [[jax.lax.conv_general_dilated(padded[:, a:a + h + 1, c:c + w + 1], kernel[a::2, c::2],
                                          (1, 1), "VALID", dimension_numbers=_DN)
             for c in (0, 1)] for a in (0, 1)]
  rows = [jnp.stack(row, axis=3) for row in phases]  # [B, H, W, 2 (col phase), Cout] each.
  return jnp.stack(rows, axis=2).reshape(b, 2 * h, 2 * w, -1)


class SubpixelConvTranspose(nn.Module):
  """Drop-in for the DCGAN's stride-2 4x4 `nn.ConvTranspose` (no bias), computed fast."""
  features: int
  kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()

  @nn.compact
  def __call__(self, x):
    kernel = self.param("kernel", self.kernel_init, (4, 4, x.shape[-1], self.features), jnp.float32)
    return subpixel_conv_transpose(x, kernel.astype(x.dtype))
