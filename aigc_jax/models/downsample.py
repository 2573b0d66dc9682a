"""Stride-2 convolutions whose input gradient multiplies no zeros.

The input gradient of a stride-2 convolution is a stride-2 *transposed* convolution of
the output gradient, which XLA lowers by dilating that gradient with zeros, so about
three quarters of its multiply-adds hit zeros (the same waste `upsample` removes from
the generators). `stride2_conv` keeps XLA's forward pass and weight gradient and computes
the input gradient with `upsample.conv_transpose_phases`: four stride-1 convolutions with
sub-kernels. Measured on the 2-core AVX2 machine (docs/benchmarks.md), forward and
backward at batch 128: the DCGAN discriminator's 64 -> 128 layer at 16x16 took 35 ms
against XLA's 59 ms (input gradient alone: 16 against 45 ms).

`conv_general_dilated` has `lax.conv_general_dilated`'s signature, so it goes into
`nn.Conv(..., conv_general_dilated=downsample.conv_general_dilated)`: the layer keeps
its parameters and function, only its gradient is computed differently. Layers it does
not cover (other strides, dilations, groups, 1x1 kernels, or narrow inputs, where four
phase convolutions with few outputs use the machine badly) fall through to XLA
unchanged. It assumes the repo's meshes (`train/sharding.py`: automatic axes); under a
mesh with explicit axes the phases' reshape needs an out_sharding it does not give.
Being a `jax.custom_vjp`, it supports reverse-mode derivatives of any order (gradient
penalties), not forward mode.

The DCGAN discriminator uses it. Interleaved A/B of whole train steps: the seed's recipe
at 32x32 RGB, batch 128, 251 -> 280 images/s; the default digits config 35.7 -> 36.5
steps/s; with R1 (second derivatives) 12.9 -> 26.5 steps/s. In the VAE encoder, the
CycleGAN networks and the restoration net it made no difference (interleaved steps/s:
1.12 / 1.13, 0.354 / 0.355, 5.56 / 5.50), so they keep XLA's.
"""

import functools

import jax
import jax.numpy as jnp

from aigc_jax.models import upsample

_NHWC = ("NHWC", "HWIO", "NHWC")
# Inputs with fewer channels keep XLA's input gradient: the phases would have as few
# output channels (the discriminator's RGB input layer: 14 ms as phases against 4 ms).
MIN_PHASE_FEATURES = 16


def _forward(x, kernel, padding, precision):
  return jax.lax.conv_general_dilated(x, kernel, (2, 2), padding, dimension_numbers=_NHWC,
                                      precision=precision)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def stride2_conv(x, kernel, padding, precision=None):
  """x [B, 2H, 2W, Cin] NHWC, kernel [k, k, Cin, Cout] HWIO, stride 2, `padding` ((lo,
  hi), (lo, hi)) with lo + hi = k - 2 or k - 1 -> [B, H, W, Cout]; XLA's convolution."""
  return _forward(x, kernel, padding, precision)


def _stride2_fwd(x, kernel, padding, precision):
  return _forward(x, kernel, padding, precision), (x, kernel)


def _stride2_bwd(padding, precision, residuals, dy):
  x, kernel = residuals
  k = kernel.shape[0]
  (lo, hi), _ = padding
  if lo + hi == k - 1:  # The last row and column of the padded input are never read.
    hi -= 1
  # The adjoint: a stride-2 transposed convolution with the kernel flipped and its
  # channel axes swapped, padded by (k - 1 - lo, k - 1 - hi) on the dilated gradient.
  adjoint = jnp.swapaxes(kernel[::-1, ::-1], 2, 3)
  dx = upsample.conv_transpose_phases(dy, adjoint, (k - 1 - lo, k - 1 - hi), precision)
  dx = dx.astype(x.dtype)
  _, kernel_vjp = jax.vjp(lambda w: _forward(x, w, padding, precision), kernel)
  return dx, kernel_vjp(dy)[0]


stride2_conv.defvjp(_stride2_fwd, _stride2_bwd)


def _is_nhwc(lhs_shape, rhs_shape, dimension_numbers) -> bool:
  as_given = jax.lax.conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers)
  return as_given == jax.lax.conv_dimension_numbers(lhs_shape, rhs_shape, _NHWC)


def covers(lhs_shape, rhs_shape, window_strides, padding, lhs_dilation=None,
           rhs_dilation=None, dimension_numbers=None, feature_group_count=1) -> bool:
  """Whether `stride2_conv` computes this `lax.conv_general_dilated` call."""
  if tuple(window_strides) != (2, 2) or feature_group_count != 1 or isinstance(padding, str):
    return False
  if any(d is not None and tuple(d) != (1, 1) for d in (lhs_dilation, rhs_dilation)):
    return False
  if len(lhs_shape) != 4 or lhs_shape[-1] < MIN_PHASE_FEATURES:
    return False
  if dimension_numbers is None or not _is_nhwc(lhs_shape, rhs_shape, dimension_numbers):
    return False
  k, k2 = rhs_shape[:2]
  (lo, hi), (lo2, hi2) = (tuple(p) for p in padding)
  # Square kernel, the same padding on both axes, even sizes, and an output of exactly
  # half the input: lo + hi = k - 2 (the 4x4 kernels with padding 1), or k - 1, whose
  # last padded row is never read (PyTorch's 3x3 kernels with padding 1).
  # A 1x1 kernel has nothing to decompose (one phase would get no taps).
  return (k == k2 and k >= 2 and (lo, hi) == (lo2, hi2) and min(lo, hi) >= 0 and
          lo + hi in (k - 2, k - 1) and lhs_shape[1] % 2 == 0 and lhs_shape[2] % 2 == 0)


def conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=None,
                         rhs_dilation=None, dimension_numbers=None, feature_group_count=1,
                         precision=None, **kwargs):
  """`lax.conv_general_dilated`, through `stride2_conv` where that covers the call."""
  if not kwargs and covers(lhs.shape, rhs.shape, window_strides, padding, lhs_dilation,
                           rhs_dilation, dimension_numbers, feature_group_count):
    padding = tuple(tuple(p) for p in padding)
    return stride2_conv(lhs, rhs, padding, precision)
  return jax.lax.conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=lhs_dilation,
                                      rhs_dilation=rhs_dilation, dimension_numbers=dimension_numbers,
                                      feature_group_count=feature_group_count, precision=precision,
                                      **kwargs)
