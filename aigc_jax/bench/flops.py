"""Floating-point work of the bench rows: the useful work of the DCGAN step and of the
diffusion U-Net's step and sampler, counted from the architectures, and XLA's count for
the other rows (`xla_flops`).

XLA's own cost analysis counts what the compiled program does, including the zeros that
a transposed convolution lowered as an input-dilated convolution multiplies; the count
here is the work a step needs: 2 FLOPs per multiply-add of every convolution whose both
operands are data (taps that fall on padding are not counted), for the forward passes
and the backward passes that the update actually requires.
"""

from typing import NamedTuple

from aigc_jax.models import dcgan


def _border_taps(size_in):
  """Data taps along one axis of a stride-2, 4-tap, pad-1 (transposed) convolution.

  Each of the `size_in` input positions of a transposed convolution feeds 4 outputs but
  the first and last lose one to the border; a strided convolution from 2 * size_in
  positions has the same count (it is the transpose)."""
  return 4 * size_in - 2


def _up_macs(size_in, c_in, c_out):
  return _border_taps(size_in) ** 2 * c_in * c_out


def _full_macs(k, c_in, c_out):
  return k * k * c_in * c_out  # A 'valid' 4x4 layer between 1x1 and 4x4: every tap is data.


def generator_macs(resolution, channels, base_features, latent_dim):
  """Per-image multiply-adds of the generator's forward pass, one entry per layer."""
  n = dcgan.num_stages(resolution)
  widths = [base_features * 2**(n - 1 - i) for i in range(n)] + [channels]
  layers = [_full_macs(4, latent_dim, widths[0])]
  size = 4
  for i in range(n):
    layers.append(_up_macs(size, widths[i], widths[i + 1]))
    size *= 2
  return layers


def discriminator_macs(resolution, channels, base_features):
  n = dcgan.num_stages(resolution)
  layers, size, c_in = [], resolution, channels
  for i in range(n):
    size //= 2
    c_out = base_features * 2**i
    layers.append(_up_macs(size, c_in, c_out))
    c_in = c_out
  layers.append(_full_macs(4, c_in, 1))
  return layers


def dcgan_step_flops(batch, resolution=32, channels=3, g_features=64, d_features=64, latent_dim=100):
  """Useful FLOPs of one DCGAN step (one D update and one G update) on `batch` images.

  D update: D forward on real and on fake, weight gradients for both, and activation
  gradients for all but D's first layer. G update: D forward on the fakes, D activation
  gradients down to the image (no D weight gradients), G weight gradients and G
  activation gradients for all but its first layer. The generator runs forward once.
  """
  g = generator_macs(resolution, channels, g_features, latent_dim)
  d = discriminator_macs(resolution, channels, d_features)
  g_f, d_f = sum(g), sum(d)
  d_update = 2 * d_f + 2 * d_f + 2 * (d_f - d[0])
  g_update = d_f + d_f + g_f + (g_f - g[0])
  return 2 * batch * (g_f + d_update + g_update)


def xla_flops(jitted, *args):
  """XLA's FLOP count of `jitted(*args)` as lowered (before optimisation), or None where
  the backend gives none. It counts what the program asks for, zeros multiplied by a
  dilated convolution included, so it bounds the useful work from above."""
  try:
    cost = jitted.lower(*args).cost_analysis()
  except Exception:  # A backend without cost analysis: the row goes without the figure.
    return None
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  flops = (cost or {}).get("flops")
  return float(flops) if flops and flops > 0 else None


class UNetMacs(NamedTuple):
  """Per-image multiply-adds of one forward pass of the diffusion U-Net.

  total: every convolution, dense layer and attention product; first_conv: the input
  convolution's (its input needs no gradient); attention: the two products q k^T and
  weights v (no weights of their own)."""
  total: int
  first_conv: int
  attention: int


def _conv3x3_taps(size, stride):
  """Data taps along one axis of a 3x3 'SAME' convolution over `size` positions, summed
  over the outputs: stride 1 pads one each side, so 3 * size - 2 fall on data; stride 2
  (XLA's 'SAME' on an even size pads one after) leaves size / 2 outputs, the last
  losing one."""
  return 3 * size - 2 if stride == 1 else 3 * (size // 2) - 1


def unet_forward_macs(resolution, channels, base_channels=32, channel_mult=(1, 2, 2), num_res_blocks=2,
                      attention_resolutions=(8,), num_classes=0, **_) -> UNetMacs:
  """Multiply-adds of `aigc_jax.models.diffusion.UNet`'s forward pass for one image,
  walking the same layout (other UNet keyword arguments are accepted and ignored); taps
  on padding are not counted."""
  emb_dim = 4 * base_channels
  total, attention = 0, 0

  def conv3(size, c_in, c_out, stride=1):
    return _conv3x3_taps(size, stride) ** 2 * c_in * c_out

  def res(size, c_in, c_out):
    macs = conv3(size, c_in, c_out) + emb_dim * c_out + conv3(size, c_out, c_out)
    return macs + (size * size * c_in * c_out if c_in != c_out else 0)

  def attend(size, c):
    n = size * size
    return 4 * n * c * c, 2 * n * n * c  # (q, k, v and out projections; the two products)

  total += base_channels * emb_dim + emb_dim * emb_dim  # The noise embedding's MLP.
  first = conv3(resolution, channels, base_channels)
  total += first
  skips, c, size = [base_channels], base_channels, resolution
  for level, mult in enumerate(channel_mult):
    for _ in range(num_res_blocks):
      total += res(size, c, base_channels * mult)
      c = base_channels * mult
      if size in attention_resolutions:
        proj, prod = attend(size, c)
        total, attention = total + proj + prod, attention + prod
      skips.append(c)
    if level < len(channel_mult) - 1:
      total += conv3(size, c, c, stride=2)
      size //= 2
      skips.append(c)
  proj, prod = attend(size, c)
  total += 2 * res(size, c, c) + proj + prod
  attention += prod
  for level, mult in reversed(list(enumerate(channel_mult))):
    for _ in range(num_res_blocks + 1):
      total += res(size, c + skips.pop(), base_channels * mult)
      c = base_channels * mult
      if size in attention_resolutions:
        proj, prod = attend(size, c)
        total, attention = total + proj + prod, attention + prod
    if level > 0:
      size *= 2
      total += conv3(size, c, c)
  total += conv3(size, c, channels)
  return UNetMacs(total, first, attention)


def unet_step_flops(batch, **architecture) -> int:
  """Useful FLOPs of one diffusion train step on `batch` images: the forward pass, the
  weight gradients of every layer with weights and the activation gradients of all but
  the input convolution (the attention products need two gradient products each, the
  same work as their weight-free forward twice): 3 forward passes less the first layer."""
  macs = unet_forward_macs(**architecture)
  return 2 * batch * (3 * macs.total - macs.first_conv)


def unet_sampling_flops(num, steps, method="heun", guided=False, **architecture) -> int:
  """Useful FLOPs of drawing `num` samples: the forward passes of the sampler's network
  evaluations (Heun 2 * steps - 1, Euler steps), twice where guidance batches both the
  conditional and the unconditional branch (a scale other than 0 and 1)."""
  evaluations = 2 * steps - 1 if method == "heun" else steps
  return 2 * num * evaluations * (2 if guided else 1) * unet_forward_macs(**architecture).total
