"""Useful floating-point work of a DCGAN train step, counted from the architecture.

XLA's own cost analysis counts what the compiled program does, including the zeros that
a transposed convolution lowered as an input-dilated convolution multiplies; the count
here is the work a step needs: 2 FLOPs per multiply-add of every convolution, for the
forward passes and the backward passes that the update actually requires.
"""

from aigc_jax.models import dcgan


def _conv_macs(h_out, w_out, k, c_in, c_out):
  return h_out * w_out * k * k * c_in * c_out


def generator_macs(resolution, channels, base_features, latent_dim):
  """Per-image multiply-adds of the generator's forward pass, one entry per layer."""
  n = dcgan.num_stages(resolution)
  widths = [base_features * 2**(n - 1 - i) for i in range(n)] + [channels]
  layers = [_conv_macs(4, 4, 1, latent_dim, widths[0])]  # 1x1 -> 4x4: every output sees z once per tap.
  size = 4
  for i in range(n):
    # A stride-2 transposed conv with a 4x4 kernel: each input pixel scatters 16 taps.
    layers.append(_conv_macs(size, size, 4, widths[i], widths[i + 1]))
    size *= 2
  return layers


def discriminator_macs(resolution, channels, base_features):
  n = dcgan.num_stages(resolution)
  layers, size, c_in = [], resolution, channels
  for i in range(n):
    size //= 2
    c_out = base_features * 2**i
    layers.append(_conv_macs(size, size, 4, c_in, c_out))
    c_in = c_out
  layers.append(_conv_macs(1, 1, 4, c_in, 1))
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
