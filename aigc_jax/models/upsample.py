"""Stride-2 transposed convolutions computed without multiplying zeros.

The straightforward lowering of a stride-2 transposed convolution dilates the input with
zeros and runs an ordinary convolution over it, so about three quarters of the
multiply-adds hit zeros, and XLA's CPU backend is slow on input-dilated convolutions,
forward and backward (docs/benchmarks.md: 5-10x slower than the forms here). The DCGAN
generator's first layer, a 'valid' 4x4 transposed convolution of a 1x1 latent, pads the
latent to 7x7 and so multiplies 15 zeros for every useful product.

- `conv_transpose_phases`: output pixel (2m + a, 2n + c) of a stride-2 transposed
  convolution only meets the kernel taps of its phase (a, c) (row and column parity),
  so each of the four phases is a plain stride-1 convolution of the input with a
  sub-kernel; the phases are then interleaved (depth-to-space). Any kernel size and
  padding whose output is twice the input (the DCGAN's and the VAE's 4x4, CycleGAN's
  3x3 with output padding).
- `fused_subpixel_conv_transpose` (4x4 kernels, padding 2): the four phases as *one* 2x2
  convolution with 4 * Cout output channels over the (H + 1) x (W + 1) windows of the
  padded input, i.e. one matrix product over 2x2 input patches, then depth-to-space and
  a one-pixel crop. Every window serves all four phases (phase 0 of window p is output
  row 2p, phase 1 is row 2p - 1), so it does (H + 1)(W + 1) / (HW) of the useful work.
  It is the faster form for narrow layers (the generator's last, to 3 channels), where
  four convolutions with 3 outputs each use the machine badly.
- `project_latent`: the 'valid' 4x4 transposed convolution of a 1x1 input as one matrix
  product.

`SubpixelConvTranspose` and `LatentProjection` are drop-ins for the `nn.ConvTranspose`
layers they replace: the same parameters (names, shapes, initial values for one key,
the kernel's layout under `transpose_kernel`), the same function. Tests check the
equalities.
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

_DN = ("NHWC", "HWIO", "NHWC")
# Layers with at most this many output channels use the fused form (one convolution with
# 4 * Cout outputs); wider ones the four phase convolutions, which multiply no padding.
# Measured on a shared 2-core CPU, forward and backward at batch 128 (docs/benchmarks.md):
# 64 -> 3 channels (16x16 -> 32x32) 60 ms fused against 290 ms as four phases; at
# 256 -> 128 and 128 -> 64 the phases were faster (144 and 197 ms against 210 and 248).
FUSED_MAX_FEATURES = 16


def dilated_conv_transpose(x, kernel, padding=(2, 2)):
  """The straightforward lowering: `lax.conv_transpose` with stride 2 and `padding`
  (lo, hi) on both axes; kernel [k, k, Cin, Cout] as `nn.ConvTranspose` keeps it
  without `transpose_kernel`."""
  return jax.lax.conv_transpose(x, kernel, (2, 2), (tuple(padding), tuple(padding)), dimension_numbers=_DN)


def _phase_taps(k: int, lo: int, a: int):
  """(first kernel tap, number of taps, input offset) of output phase a along one axis.

  Over the 2x-dilated input padded by `lo`, output o reads dilated position o + t - lo
  with tap t, which holds input (o + t - lo) / 2 when even: for o = 2m + a, the taps
  t = t0, t0 + 2, ... with t0 = (lo - a) mod 2, reading inputs m + offset, m + offset + 1, ...
  """
  t0 = (lo - a) % 2
  return t0, len(range(t0, k, 2)), (a + t0 - lo) // 2


def conv_transpose_phases(x, kernel, padding=(2, 2), precision=None):
  """`dilated_conv_transpose(x, kernel, padding)` as four stride-1 convolutions.

  x [B, H, W, Cin], kernel [k, k, Cin, Cout] -> [B, 2H, 2W, Cout]; `padding` (lo, hi)
  must make the output exactly twice the input (2H + lo + hi - k == 2H). `precision`
  goes to the convolutions (lax's).
  """
  b, h, w, _ = x.shape
  k = kernel.shape[0]
  lo, hi = padding
  if lo + hi != k:
    raise ValueError(f"padding {padding} with a {k}x{k} kernel does not double the size (need lo + hi = {k})")
  taps = [_phase_taps(k, lo, a) for a in (0, 1)]
  # One zero padding serves every phase: from the smallest offset to the last input read.
  front = max(0, -min(offset for _, _, offset in taps))
  back = max(0, max(offset + n for _, n, offset in taps) - 1)
  padded = jnp.pad(x, ((0, 0), (front, back), (front, back), (0, 0)))
  rows = []
  for t_row, n_row, o_row in taps:
    cols = []
    for t_col, n_col, o_col in taps:
      window = padded[:, front + o_row:front + o_row + h + n_row - 1, front + o_col:front + o_col + w + n_col - 1]
      cols.append(jax.lax.conv_general_dilated(window, kernel[t_row::2, t_col::2], (1, 1), "VALID",
                                               dimension_numbers=_DN, precision=precision))
    rows.append(jnp.stack(cols, axis=3))  # [B, H, W, 2 (column phase), Cout]
  return jnp.stack(rows, axis=2).reshape(b, 2 * h, 2 * w, -1)


def subpixel_conv_transpose(x, kernel):
  """x [B, H, W, Cin], kernel [4, 4, Cin, Cout] -> [B, 2H, 2W, Cout], as four 2x2 convolutions.

  PyTorch's `ConvTranspose2d(k=4, s=2, p=1)` (padding 2 on the dilated input).
  """
  return conv_transpose_phases(x, kernel, (2, 2))


def fused_kernel(kernel):
  """[4, 4, Cin, Cout] -> [2, 2, Cin, 4 * Cout], the kernel of the fused form.

  Window row r (0 or 1) of phase a meets kernel row 2r + a. The phases are stored in
  reverse order (1, then 0) per axis, because phase 1 of a window is the output row
  *before* phase 0's: then depth-to-space puts every output pixel in its place.
  """
  cin, cout = kernel.shape[2:]
  k = kernel.reshape(2, 2, 2, 2, cin, cout)[:, ::-1, :, ::-1]  # (row r, row phase, col r, col phase, ...)
  return k.transpose(0, 2, 4, 1, 3, 5).reshape(2, 2, cin, 4 * cout)


def fused_subpixel_conv_transpose(x, kernel):
  """x [B, H, W, Cin], kernel [4, 4, Cin, Cout] -> [B, 2H, 2W, Cout], as one 2x2 convolution."""
  b, h, w, _ = x.shape
  cout = kernel.shape[-1]
  padded = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
  y = jax.lax.conv_general_dilated(padded, fused_kernel(kernel), (1, 1), "VALID", dimension_numbers=_DN)
  y = y.reshape(b, h + 1, w + 1, 2, 2, cout).transpose(0, 1, 3, 2, 4, 5)
  return y.reshape(b, 2 * h + 2, 2 * w + 2, cout)[:, 1:-1, 1:-1]


def project_latent(z, kernel):
  """z [B, Cin], kernel [4, 4, Cin, Cout] -> [B, 4, 4, Cout]: a 'valid' transposed
  convolution of the 1x1 map z. Output pixel (i, j) meets kernel tap (3 - i, 3 - j)."""
  cin, cout = kernel.shape[2:]
  flat = kernel[::-1, ::-1].transpose(2, 0, 1, 3).reshape(cin, 16 * cout)
  return (z @ flat).reshape(z.shape[0], 4, 4, cout)


class SubpixelConvTranspose(nn.Module):
  """Drop-in for `nn.ConvTranspose(features, (k, k), strides=(2, 2), padding=(padding,
  padding), transpose_kernel=..., use_bias=...)` where the output is twice the input,
  computed by `conv_transpose_phases` (or, for the 4x4 padding-2 layer, the fused form).

  The defaults are the DCGAN's layer (PyTorch's `ConvTranspose2d(k=4, s=2, p=1)`);
  `padding` (2, 2) with k = 4 is also Flax's "SAME". `fused`: None picks the form by
  width (`FUSED_MAX_FEATURES`); True or False forces it (True only for that layer).
  `dtype` is the computation's dtype (None: that of the input and kernel); parameters
  are stored in `param_dtype`.
  """
  features: int
  kernel_size: int = 4
  padding: tuple = (2, 2)
  transpose_kernel: bool = False
  use_bias: bool = False
  fused: bool | None = None
  kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()
  bias_init: nn.initializers.Initializer = nn.initializers.zeros
  dtype: Any = None
  param_dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    k, cin = self.kernel_size, x.shape[-1]
    shape = (k, k, self.features, cin) if self.transpose_kernel else (k, k, cin, self.features)
    kernel = self.param("kernel", self.kernel_init, shape, self.param_dtype)
    bias = self.param("bias", self.bias_init, (self.features,), self.param_dtype) if self.use_bias else None
    x, kernel, bias = nn.dtypes.promote_dtype(x, kernel, bias, dtype=self.dtype)
    if self.transpose_kernel:  # What lax.conv_transpose does with transpose_kernel=True.
      kernel = jnp.swapaxes(kernel[::-1, ::-1], 2, 3)
    can_fuse = k == 4 and tuple(self.padding) == (2, 2)
    fused = can_fuse and self.features <= FUSED_MAX_FEATURES if self.fused is None else self.fused
    if fused and not can_fuse:
      raise ValueError("the fused form is for 4x4 kernels with padding (2, 2)")
    y = fused_subpixel_conv_transpose(x, kernel) if fused else conv_transpose_phases(x, kernel, self.padding)
    return y if bias is None else y + bias


class LatentProjection(nn.Module):
  """Drop-in for the generator's first layer, `nn.ConvTranspose(features, (4, 4),
  padding="VALID", use_bias=False)` on a latent reshaped to [B, 1, 1, Cin]: z [B, Cin]
  -> [B, 4, 4, features], one matrix product."""
  features: int
  kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()
  dtype: Any = None
  param_dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, z):
    kernel = self.param("kernel", self.kernel_init, (4, 4, z.shape[-1], self.features), self.param_dtype)
    z, kernel = nn.dtypes.promote_dtype(z, kernel, dtype=self.dtype)
    return project_latent(z, kernel)


# How a model may compute its stride-2 transposed convolutions (its `upsample` field).
LOWERINGS = ("subpixel", "dilated")


def conv_transpose_layer(lowering: str, features: int, kernel_size: int = 4, padding=(2, 2), *,
                         transpose_kernel: bool = False, use_bias: bool = False, fused: bool | None = None,
                         kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal(),
                         dtype: Any = None, name: str | None = None) -> nn.Module:
  """A stride-2 transposed-convolution layer that doubles the size, in either lowering.

  "subpixel": `SubpixelConvTranspose`; "dilated": the straightforward `nn.ConvTranspose`
  with `padding` (lo, hi) on both axes. Both have the same parameters (names, shapes, and
  initial values for one key) and compute the same function, so a model picks one by a
  field and its checkpoints fit either.
  """
  if lowering == "subpixel":
    return SubpixelConvTranspose(features, kernel_size, padding=tuple(padding), transpose_kernel=transpose_kernel,
                                 use_bias=use_bias, fused=fused, kernel_init=kernel_init, dtype=dtype, name=name)
  if lowering == "dilated":
    return nn.ConvTranspose(features, (kernel_size, kernel_size), strides=(2, 2),
                            padding=(tuple(padding), tuple(padding)), transpose_kernel=transpose_kernel,
                            use_bias=use_bias, kernel_init=kernel_init, dtype=dtype, name=name)
  raise ValueError(f"unknown upsample {lowering!r}; choose one of {', '.join(LOWERINGS)}")
