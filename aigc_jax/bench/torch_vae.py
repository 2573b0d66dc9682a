"""The PyTorch reference of the VAE step, for side-by-side timing.

The same network as `aigc_jax.models.vae.conv_vae` with the config's `features` and
`hidden` (stride-2 3x3 convolutions with the same asymmetric 'SAME' padding, swish,
dense layers to the Gaussian posterior; the mirror decoder with stride-2 4x4 transposed
convolutions and a 3x3 convolution to two parameters per subpixel), the same loss (the
discretized logistic likelihood with a floored log-scale, the closed-form KL, one
reparameterised sample) and the same optimizer (global-norm clipping, then Adam), as
`aigc_jax.train.vae` runs them. Mixed precision and torch.compile as `torch_common` says
(the likelihood and KL stay float32, as the JAX step's do). PyTorch is an optional extra
(`bench`).
"""


def make_step(batch, resolution=32, channels=3, latent_dim=128, features=(64, 128, 256), hidden=1024,
              lr=5e-4, grad_clip=100.0, min_log_scale=-7.0, num_bins=256, device="cpu", seed=0,
              dtype="float32", compile=False):
  """A timing.Step that runs one update on a fixed random batch of 8-bit images."""
  import torch
  from torch import nn
  import torch.nn.functional as F
  from aigc_jax.bench import torch_common

  torch.manual_seed(seed)
  n = len(features)
  size = resolution // 2**n

  class Encoder(nn.Module):
    def __init__(self):
      super().__init__()
      widths = (channels,) + tuple(features)
      self.convs = nn.ModuleList(nn.Conv2d(a, b, 3, 2) for a, b in zip(widths, widths[1:]))
      self.dense = nn.Linear(features[-1] * size * size, hidden)
      self.mean, self.logvar = nn.Linear(hidden, latent_dim), nn.Linear(hidden, latent_dim)

    def forward(self, x):
      for conv in self.convs:
        x = F.silu(conv(F.pad(x, (0, 1, 0, 1))))  # XLA's 'SAME' for stride 2 on even sizes.
      x = F.silu(self.dense(x.flatten(1)))
      return self.mean(x), self.logvar(x)

  class Decoder(nn.Module):
    def __init__(self):
      super().__init__()
      self.dense1 = nn.Linear(latent_dim, hidden)
      self.dense2 = nn.Linear(hidden, size * size * features[-1])
      widths = (features[-1],) + tuple(reversed(features))
      self.ups = nn.ModuleList(nn.ConvTranspose2d(a, b, 4, 2, 1) for a, b in zip(widths, widths[1:]))
      self.out = nn.Conv2d(features[0], channels * 2, 3, padding=1)

    def forward(self, z):
      x = F.silu(self.dense2(F.silu(self.dense1(z)))).view(-1, features[-1], size, size)
      for up in self.ups:
        x = F.silu(up(x))
      return self.out(x).view(-1, channels, 2, resolution, resolution)

  encoder, decoder = Encoder().to(device), Decoder().to(device)
  params = list(encoder.parameters()) + list(decoder.parameters())
  encoder, decoder = torch_common.maybe_compile(encoder, compile), torch_common.maybe_compile(decoder, compile)
  opt = torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999))
  x = (torch.randint(0, 256, (batch, channels, resolution, resolution)) / 127.5 - 1.0).to(device)
  half_bin = 1.0 / (num_bins - 1)

  def log_likelihood(out, x):
    mean, log_scale = torch.tanh(out[:, :, 0]), torch.clamp(out[:, :, 1], min=min_log_scale)
    inv_scale = torch.exp(-log_scale)
    upper, lower = (x - mean + half_bin) * inv_scale, (x - mean - half_bin) * inv_scale
    inner = F.logsigmoid(upper) + F.logsigmoid(-lower) + torch.log(-torch.expm1(lower - upper))
    log_p = torch.where(x < -1 + half_bin, F.logsigmoid(upper),
                        torch.where(x > 1 - half_bin, F.logsigmoid(-lower), inner))
    return log_p.flatten(1).sum(1)

  def run():
    with torch_common.autocast(device, dtype):
      mean, logvar = encoder(x)
    mean, logvar = mean.float(), logvar.float()
    z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
    kl = 0.5 * (torch.exp(logvar) + mean**2 - 1.0 - logvar).sum(1)
    with torch_common.autocast(device, dtype):
      out = decoder(z)
    loss = (kl - log_likelihood(out.float(), x)).mean()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip:
      torch.nn.utils.clip_grad_norm_(params, grad_clip)
    opt.step()
    return loss

  return torch_common.step(run, device)
