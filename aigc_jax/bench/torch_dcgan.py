"""The PyTorch reference of the DCGAN step, for side-by-side timing.

The same architecture (the seed's), the same loss (non-saturating BCE on logits) and the
same optimizer (Adam 2e-4, betas 0.5 / 0.999) and the same step structure as
`aigc_jax.train.gan`: the generator runs forward once; D is updated on real and detached
fake; G's gradient comes from the updated D. PyTorch is an optional extra (`bench`).
"""


def make_step(batch, resolution=32, channels=3, g_features=64, d_features=64, latent_dim=100, device="cpu",
              seed=0):
  """Returns `step()` that runs one D + G update on a fixed random real batch."""
  import torch
  from torch import nn
  from aigc_jax.models import dcgan

  torch.manual_seed(seed)
  n = dcgan.num_stages(resolution)
  g_layers = [nn.ConvTranspose2d(latent_dim, g_features * 2**(n - 1), 4, 1, 0, bias=False)]
  for i in range(n):
    c_in = g_features * 2**(n - 1 - i)
    c_out = channels if i == n - 1 else g_features * 2**(n - 2 - i)
    g_layers += [nn.BatchNorm2d(c_in), nn.ReLU(True), nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False)]
  generator = nn.Sequential(*g_layers, nn.Tanh()).to(device)
  d_layers, c_in = [], channels
  for i in range(n):
    c_out = d_features * 2**i
    d_layers.append(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False))
    if i > 0:
      d_layers.append(nn.BatchNorm2d(c_out))
    d_layers.append(nn.LeakyReLU(0.2, inplace=True))
    c_in = c_out
  discriminator = nn.Sequential(*d_layers, nn.Conv2d(c_in, 1, 4, 1, 0, bias=False), nn.Flatten(0)).to(device)
  opt_g = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
  opt_d = torch.optim.Adam(discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
  bce = nn.BCEWithLogitsLoss()
  real = (torch.rand(batch, channels, resolution, resolution) * 2 - 1).to(device)
  ones, zeros = torch.ones(batch, device=device), torch.zeros(batch, device=device)

  def step():
    z = torch.randn(batch, latent_dim, 1, 1, device=device)
    fake = generator(z)
    opt_d.zero_grad(set_to_none=True)
    d_loss = bce(discriminator(real), ones) + bce(discriminator(fake.detach()), zeros)
    d_loss.backward()
    opt_d.step()
    opt_g.zero_grad(set_to_none=True)
    # D's weight gradients are not needed for G's update; skip them as the JAX step does.
    for p in discriminator.parameters():
      p.requires_grad_(False)
    g_loss = bce(discriminator(fake), ones)
    g_loss.backward()
    for p in discriminator.parameters():
      p.requires_grad_(True)
    opt_g.step()
    return float(g_loss.detach())

  return step
