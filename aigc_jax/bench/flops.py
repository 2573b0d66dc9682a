"""Floating-point work of the bench rows: the DCGAN step's useful work, counted from the
architecture, and XLA's count for the other rows (`xla_flops`).

XLA's own cost analysis counts what the compiled program does, including the zeros that
a transposed convolution lowered as an input-dilated convolution multiplies; the count
here is the work a step needs: 2 FLOPs per multiply-add of every convolution whose both
operands are data (taps that fall on padding are not counted), for the forward passes
and the backward passes that the update actually requires.
"""

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
