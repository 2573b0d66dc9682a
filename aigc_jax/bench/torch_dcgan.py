"""The PyTorch reference of the DCGAN step, for side-by-side timing.

The same architecture (the seed's), the same loss (non-saturating BCE on logits) and the
same optimizer (Adam 2e-4, betas 0.5 / 0.999) and the same step structure as
`aigc_jax.train.gan`: the generator runs forward once; D is updated on real and detached
fake; G's gradient comes from the updated D. Mixed precision and torch.compile as
`torch_common` says. PyTorch is an optional extra (`bench`).
"""


def make_step(batch, resolution=32, channels=3, g_features=64, d_features=64, latent_dim=100, device="cpu",
              seed=0, dtype="float32", compile=False):
  """A timing.Step that runs one D + G update on a fixed random real batch."""
  import torch
  from torch import nn
  from aigc_jax.bench import torch_common
  from aigc_jax.models import dcgan

  torch.manual_seed(seed)
  n = dcgan.num_stages(resolution)
  g_layers = [nn.ConvTranspose2d(latent_dim, g_features * 2**(n - 1), 4, 1, 0, bias=False)]
  for i in range(n):
    c_in = g_features * 2**(n - 1 - i)
    c_out = channels if i == n - 1 else g_features * 2**(n - 2 - i)
    g_layers += [nn.BatchNorm2d(c_in), nn.ReLU(True), nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False)]
  generator = torch_common.maybe_compile(nn.Sequential(*g_layers, nn.Tanh()).to(device), compile)
  d_layers, c_in = [], channels
  for i in range(n):
    c_out = d_features * 2**i
    d_layers.append(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False))
    if i > 0:
      d_layers.append(nn.BatchNorm2d(c_out))
    d_layers.append(nn.LeakyReLU(0.2, inplace=True))
    c_in = c_out
  discriminator = nn.Sequential(*d_layers, nn.Conv2d(c_in, 1, 4, 1, 0, bias=False), nn.Flatten(0)).to(device)
  params_d = list(discriminator.parameters())
  discriminator = torch_common.maybe_compile(discriminator, compile)
  opt_g = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
  opt_d = torch.optim.Adam(params_d, lr=2e-4, betas=(0.5, 0.999))
  bce = nn.BCEWithLogitsLoss()
  real = (torch.rand(batch, channels, resolution, resolution) * 2 - 1).to(device)
  ones, zeros = torch.ones(batch, device=device), torch.zeros(batch, device=device)

  def run():
    z = torch.randn(batch, latent_dim, 1, 1, device=device)
    with torch_common.autocast(device, dtype):
      fake = generator(z)
      d_loss = bce(discriminator(real).float(), ones) + bce(discriminator(fake.detach()).float(), zeros)
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_d.step()
    opt_g.zero_grad(set_to_none=True)
    # D's weight gradients are not needed for G's update; skip them as the JAX step does.
    for p in params_d:
      p.requires_grad_(False)
    with torch_common.autocast(device, dtype):
      g_loss = bce(discriminator(fake).float(), ones)
    g_loss.backward()
    for p in params_d:
      p.requires_grad_(True)
    opt_g.step()
    return g_loss

  return torch_common.step(run, device)
