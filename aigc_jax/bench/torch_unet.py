"""The PyTorch reference of the diffusion U-Net, its EDM train step and its Heun sampler,
for side-by-side timing (`aigc bench --only diffusion`).

`UNet` is `aigc_jax.models.diffusion.UNet` in PyTorch (NCHW): the same residual blocks
(GroupNorm with eps 1e-6, SiLU, 3x3 convolutions, the embedding added between, divided
by sqrt 2), the same single-head attention, stride-2 3x3 convolutions with XLA's 'SAME'
padding (one row and column after, none before), nearest upsampling, the same noise and
class embeddings. Every submodule is named as Flax names it (`ResBlock_3.Conv_1`,
`Dense_0`, ...), so `load_flax_params` copies a Flax parameter tree in by name; the
tests check equal parameter counts and equal outputs on copied weights.

`make_step` is the EDM step of `aigc_jax.train.diffusion` (log-normal noise levels, label
dropout to the null class, the preconditioned denoiser, the weighted loss, Adam with a
linear warm-up, an EMA of the weights); `make_sampler` is EDM's deterministic Heun
sampler on the Karras schedule with classifier-free guidance, as `aigc_jax.train.edm`
solves it. Mixed precision and torch.compile as `torch_common` says. PyTorch is an
optional extra (`bench`).
"""

import math

import numpy as np


def _modules():
  """The module classes, built on first use so that importing this file needs no torch."""
  import torch
  from torch import nn
  import torch.nn.functional as F

  def group_norm(groups, channels):
    return nn.GroupNorm(min(groups, channels), channels, eps=1e-6)  # Flax's epsilon.

  class FourierEmbedding(nn.Module):
    def __init__(self, dim):
      super().__init__()
      self.freqs = nn.Parameter(torch.zeros(dim // 2), requires_grad=False)

    def forward(self, c_noise):
      args = 2 * math.pi * c_noise.float()[:, None] * self.freqs[None]
      return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)

  class ResBlock(nn.Module):
    def __init__(self, c_in, features, emb_dim, groups, dropout):
      super().__init__()
      self.GroupNorm_0 = group_norm(groups, c_in)
      self.Conv_0 = nn.Conv2d(c_in, features, 3, padding=1)
      self.Dense_0 = nn.Linear(emb_dim, features)
      self.GroupNorm_1 = group_norm(groups, features)
      self.dropout = nn.Dropout(dropout)
      self.Conv_1 = nn.Conv2d(features, features, 3, padding=1)
      if c_in != features:
        self.Conv_2 = nn.Conv2d(c_in, features, 1)

    def forward(self, x, emb):
      h = self.Conv_0(F.silu(self.GroupNorm_0(x)))
      h = h + self.Dense_0(emb)[:, :, None, None]
      h = self.Conv_1(self.dropout(F.silu(self.GroupNorm_1(h))))
      if hasattr(self, "Conv_2"):
        x = self.Conv_2(x)
      return (x + h) / math.sqrt(2.0)

  class AttentionBlock(nn.Module):
    def __init__(self, channels, groups):
      super().__init__()
      self.GroupNorm_0 = group_norm(groups, channels)
      self.Dense_0 = nn.Linear(channels, 3 * channels)
      self.Dense_1 = nn.Linear(channels, channels)

    def forward(self, x):
      b, c, h, w = x.shape
      y = self.GroupNorm_0(x).reshape(b, c, h * w).transpose(1, 2)  # [B, HW, C], Flax's order.
      q, k, v = self.Dense_0(y).chunk(3, dim=-1)
      weights = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(c), dim=-1)
      y = self.Dense_1(weights @ v)
      return (x + y.transpose(1, 2).reshape(b, c, h, w)) / math.sqrt(2.0)

  class UNet(nn.Module):
    """F(x [B, C, R, R], c_noise [B], labels [B] | None) -> [B, C, R, R] float32."""

    def __init__(self, resolution, channels, base_channels=32, channel_mult=(1, 2, 2), num_res_blocks=2,
                 attention_resolutions=(8,), num_classes=0, noise_embedding="positional", dropout=0.0,
                 num_groups=8):
      super().__init__()
      self.base_channels, self.num_classes, self.noise_embedding = base_channels, num_classes, noise_embedding
      emb_dim = 4 * base_channels
      counts = {}

      def add(kind, module):  # Flax's automatic names: a counter per class, in creation order.
        name = f"{kind}_{counts.get(kind, 0)}"
        counts[kind] = counts.get(kind, 0) + 1
        self.add_module(name, module)
        return name

      if noise_embedding == "fourier":
        self.fourier = add("FourierEmbedding", FourierEmbedding(base_channels))
      self.emb_dense = [add("Dense", nn.Linear(base_channels, emb_dim)), add("Dense", nn.Linear(emb_dim, emb_dim))]
      if num_classes:
        self.embed = add("Embed", nn.Embedding(num_classes + 1, emb_dim))
      res = lambda c_in, c_out: add("ResBlock", ResBlock(c_in, c_out, emb_dim, num_groups, dropout))
      attend = lambda c: add("AttentionBlock", AttentionBlock(c, num_groups))
      # The layout, as ops run in order: ("res", name), ("attn", name), ("push",),
      # ("down", name), ("cat_res", name) (pops a skip first), ("up", name).
      self.ops = [("in", add("Conv", nn.Conv2d(channels, base_channels, 3, padding=1))), ("push",)]
      skip_widths, c, size = [base_channels], base_channels, resolution
      for level, mult in enumerate(channel_mult):
        for _ in range(num_res_blocks):
          self.ops.append(("res", res(c, base_channels * mult)))
          c = base_channels * mult
          if size in attention_resolutions:
            self.ops.append(("attn", attend(c)))
          self.ops.append(("push",))
          skip_widths.append(c)
        if level < len(channel_mult) - 1:
          self.ops += [("down", add("Conv", nn.Conv2d(c, c, 3, stride=2))), ("push",)]
          skip_widths.append(c)
          size //= 2
      self.ops += [("res", res(c, c)), ("attn", attend(c)), ("res", res(c, c))]
      for level, mult in reversed(list(enumerate(channel_mult))):
        for _ in range(num_res_blocks + 1):
          self.ops.append(("cat_res", res(c + skip_widths.pop(), base_channels * mult)))
          c = base_channels * mult
          if size in attention_resolutions:
            self.ops.append(("attn", attend(c)))
        if level > 0:
          self.ops.append(("up", add("Conv", nn.Conv2d(c, c, 3, padding=1))))
          size *= 2
      self.out_norm = add("GroupNorm", group_norm(num_groups, c))
      self.out_conv = add("Conv", nn.Conv2d(c, channels, 3, padding=1))

    def embedding(self, c_noise, labels):
      if self.noise_embedding == "fourier":
        emb = getattr(self, self.fourier)(c_noise)
      else:
        half = self.base_channels // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=c_noise.device) / half)
        args = c_noise.float()[:, None] * freqs[None]  # As the Flax embedding: c_noise unscaled.
        emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
      emb = getattr(self, self.emb_dense[1])(F.silu(getattr(self, self.emb_dense[0])(emb)))
      if self.num_classes:
        if labels is None:
          labels = torch.full((c_noise.shape[0],), self.num_classes, dtype=torch.long, device=c_noise.device)
        emb = emb + getattr(self, self.embed)(labels)
      return F.silu(emb)

    def forward(self, x, c_noise, labels=None):
      emb = self.embedding(c_noise, labels)
      skips, h = [], x
      for op in self.ops:
        kind, layer = op[0], getattr(self, op[1]) if len(op) > 1 else None
        if kind == "in":
          h = layer(h)
        elif kind == "push":
          skips.append(h)
        elif kind == "res":
          h = layer(h, emb)
        elif kind == "cat_res":
          h = layer(torch.cat([h, skips.pop()], dim=1), emb)
        elif kind == "attn":
          h = layer(h)
        elif kind == "down":
          h = layer(F.pad(h, (0, 1, 0, 1)))  # XLA's 'SAME' for stride 2 on even sizes.
        elif kind == "up":
          h = layer(F.interpolate(h, scale_factor=2, mode="nearest"))
      h = F.silu(getattr(self, self.out_norm)(h))
      return getattr(self, self.out_conv)(h).float()

  return UNet


def build_unet(**architecture):
  """The PyTorch U-Net with `aigc_jax.models.diffusion.UNet`'s keyword arguments
  (resolution, channels, base_channels, channel_mult, ..., num_classes; not dtype)."""
  return _modules()(**architecture)


def flax_path(torch_name: str) -> tuple:
  """A parameter's Flax path: "ResBlock_3.Conv_1.weight" -> ("ResBlock_3", "Conv_1", "kernel")."""
  *modules, leaf = torch_name.split(".")
  kind = modules[-1].rsplit("_", 1)[0]
  if leaf == "freqs":
    return (*modules, "freqs")
  if leaf == "bias":
    return (*modules, "bias")
  return (*modules, {"Conv": "kernel", "Dense": "kernel", "GroupNorm": "scale", "Embed": "embedding"}[kind])


def _to_torch_layout(name: str, value: np.ndarray) -> np.ndarray:
  kind = name.split(".")[-2].rsplit("_", 1)[0]
  if name.endswith(".weight") and kind == "Conv":
    return value.transpose(3, 2, 0, 1)  # HWIO -> OIHW
  if name.endswith(".weight") and kind == "Dense":
    return value.T  # [in, out] -> [out, in]
  return value


def load_flax_params(unet, params) -> None:
  """Copies a Flax parameter tree of the same architecture into `unet`, in place.

  Every PyTorch parameter is read from its Flax path; a missing path or a shape that
  differs is a KeyError or ValueError (the architectures differ)."""
  import torch
  with torch.no_grad():
    for name, p in unet.named_parameters():
      value = params
      for key in flax_path(name):
        value = value[key]
      value = _to_torch_layout(name, np.asarray(value, np.float32))
      if tuple(value.shape) != tuple(p.shape):
        raise ValueError(f"{name}: Flax shape {value.shape} is not PyTorch's {tuple(p.shape)}")
      p.copy_(torch.from_numpy(np.array(value)))  # A writable copy (a JAX array views read-only).


def _precondition(sigma, sigma_data):
  total = sigma ** 2 + sigma_data ** 2
  return sigma_data ** 2 / total, sigma * sigma_data / total.sqrt(), 1.0 / total.sqrt(), sigma.log() / 4.0


def make_denoiser(unet, sigma_data: float = 0.5):
  """EDM's D(y [B, C, R, R], sigma [B], labels [B] | None) around the U-Net F."""
  def denoise(y, sigma, labels=None):
    c_skip, c_out, c_in, c_noise = (c[:, None, None, None] for c in _precondition(sigma, sigma_data))
    return c_skip * y + c_out * unet(c_in * y, c_noise.flatten(), labels)
  return denoise


def make_step(batch, architecture: dict, num_classes=10, sigma_data=0.5, p_mean=-1.2, p_std=1.2,
              label_dropout=0.1, lr=2e-3, b1=0.9, b2=0.999, warmup_steps=100, ema_decay=0.999, device="cpu",
              seed=0, dtype="float32", compile=False):
  """A timing.Step that runs one EDM update (and the EMA) on a fixed random batch."""
  import torch
  from aigc_jax.bench import torch_common

  torch.manual_seed(seed)
  r, c = architecture["resolution"], architecture["channels"]
  unet = build_unet(num_classes=num_classes, **architecture).to(device)
  ema = [p.detach().clone() for p in unet.parameters()]
  params = list(unet.parameters())
  net = torch_common.maybe_compile(unet, compile)
  opt = torch.optim.Adam(params, lr=lr, betas=(b1, b2))
  warmup = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, s / warmup_steps) if warmup_steps else 1.0)
  denoise = make_denoiser(net, sigma_data)
  x = (torch.randint(0, 256, (batch, c, r, r)) / 127.5 - 1.0).to(device)
  labels = torch.randint(0, max(num_classes, 1), (batch,), device=device)

  def run():
    sigma = torch.exp(p_mean + p_std * torch.randn(batch, device=device))
    noise = torch.randn_like(x)
    cond = None
    if num_classes:
      drop = torch.rand(batch, device=device) < label_dropout
      cond = torch.where(drop, torch.full_like(labels, num_classes), labels)
    with torch_common.autocast(device, dtype):
      d = denoise(x + sigma[:, None, None, None] * noise, sigma, cond).float()
    weight = (sigma ** 2 + sigma_data ** 2) / (sigma * sigma_data) ** 2
    loss = (weight * ((d - x) ** 2).flatten(1).mean(1)).mean()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    warmup.step()
    with torch.no_grad():
      torch._foreach_lerp_(ema, [p.detach() for p in params], 1.0 - ema_decay)
    return loss.detach()

  return torch_common.step(run, device)


def karras_sigmas(steps: int, sigma_min=0.002, sigma_max=80.0, rho=7.0) -> np.ndarray:
  """EDM's schedule float64 [steps + 1], ending at 0 (as `aigc_jax.train.edm`)."""
  ramp = np.arange(steps, dtype=np.float64) / max(steps - 1, 1)
  inv = 1.0 / rho
  return np.append((sigma_max ** inv + ramp * (sigma_min ** inv - sigma_max ** inv)) ** rho, 0.0)


def heun_sample(denoise, x, sigmas, labels=None, guidance=1.0, null_label=None):
  """EDM's deterministic Heun sampler from x [B, C, R, R] at sigmas[0] to sigmas[-1] = 0,
  with D = D_uncond + g (D_cond - D_uncond) (one call for g = 1 or 0, as `edm.guided`)."""
  import torch

  def d_of(y, sig):
    s = torch.full((y.shape[0],), float(sig), device=y.device)
    if labels is None or guidance == 1:
      return denoise(y, s, labels)
    null = torch.full_like(labels, null_label)
    if guidance == 0:
      return denoise(y, s, null)
    d_cond, d_uncond = denoise(torch.cat([y, y]), torch.cat([s, s]), torch.cat([labels, null])).chunk(2)
    return d_uncond + guidance * (d_cond - d_uncond)

  for i, (t_cur, t_next) in enumerate(zip(sigmas[:-1], sigmas[1:])):
    d = (x - d_of(x, t_cur)) / t_cur
    x_next = x + (t_next - t_cur) * d
    if t_next > 0:
      d_next = (x_next - d_of(x_next, t_next)) / t_next
      x_next = x + (t_next - t_cur) * 0.5 * (d + d_next)
    x = x_next
  return x


def make_sampler(num, architecture: dict, num_classes=10, steps=18, guidance=1.0, sigma_data=0.5, params=None,
                 x0=None, device="cpu", seed=0, dtype="float32", compile=False):
  """(timing.Step that draws `num` samples with `steps` Heun steps, fn() -> the float32
  samples [num, C, R, R] of the fixed start `x0` (numpy NCHW at sigma_max; random when
  None)). `params`: Flax weights to copy in (else PyTorch's init)."""
  import torch
  from aigc_jax.bench import torch_common

  torch.manual_seed(seed)
  r, c = architecture["resolution"], architecture["channels"]
  unet = build_unet(num_classes=num_classes, **architecture).to(device).eval()
  if params is not None:
    load_flax_params(unet, params)
  denoise = make_denoiser(torch_common.maybe_compile(unet, compile), sigma_data)
  sigmas = karras_sigmas(steps)
  start = torch.from_numpy(x0).to(device) if x0 is not None else (
      torch.randn(num, c, r, r, device=device) * sigmas[0])
  labels = (torch.arange(num, device=device) % num_classes) if num_classes else None
  out = {}

  def run():
    with torch.no_grad(), torch_common.autocast(device, dtype):
      out["x"] = heun_sample(denoise, start, sigmas, labels, guidance, num_classes)
    return out["x"]

  return torch_common.step(run, device), lambda: out["x"].float().cpu().numpy()
