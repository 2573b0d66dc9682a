"""The U-Net of the diffusion family: a network F(x, c_noise, label) of EDM's denoiser.

`UNet` maps a (preconditioned) noisy image float [B, R, R, C] and its noise level
embedding input `c_noise` float [B] (EDM: ln(sigma) / 4) to an image-shaped output
float32 [B, R, R, C]; `aigc_jax.train.diffusion` wraps it into the denoiser
D(x, sigma) = c_skip x + c_out F(c_in x, c_noise). The layout follows DDPM / EDM's
"DDPM++" networks in a small form:

- an encoder of `len(channel_mult)` levels, each `num_res_blocks` residual blocks
  (GroupNorm, SiLU, 3x3 conv, plus a per-channel shift from the embedding) and, at the
  resolutions in `attention_resolutions`, a self-attention block after each; a stride-2
  conv halves the size between levels;
- a middle of residual, attention, residual blocks at the lowest resolution;
- a decoder mirroring the encoder, one extra block per level, each concatenating the
  matching encoder activation (the skips), nearest upsampling + 3x3 conv between levels;
- a zero-initialised output conv, so F starts at 0 and D at c_skip x.

The noise level enters through a sinusoidal ("positional", as DDPM and EDM's DDPM++) or
random Fourier-feature ("fourier", as NCSN++) embedding followed by a two-layer MLP.
With `num_classes` = K > 0 an embedding table of K + 1 rows adds the class: label K is
the null class, the "no label" of classifier-free guidance (label dropout in training,
the unconditional branch in sampling).
"""

import functools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp

NOISE_EMBEDDINGS = ("positional", "fourier")


def positional_embedding(c_noise, dim: int):
  """float [B] -> float32 [B, dim]: cos/sin of c_noise at the `dim / 2` geometric
  frequencies 10000^(-i / (dim / 2)), from 1 toward 1/10000 without reaching it (the
  transformer-style embedding of DDPM; EDM's DDPM++ spaces them to end at 1/10000),
  applied to EDM's c_noise = ln(sigma) / 4 unscaled, as DDPM++ does; the MLP after it
  shapes it."""
  half = dim // 2
  freqs = jnp.exp(-math.log(10000.0) * jnp.arange(half, dtype=jnp.float32) / half)
  args = c_noise.astype(jnp.float32)[:, None] * freqs[None]
  return jnp.concatenate([jnp.cos(args), jnp.sin(args)], axis=-1)


class FourierEmbedding(nn.Module):
  """Random Fourier features of a scalar: float [B] -> float32 [B, dim] (NCSN++).

  The frequencies, drawn at init from N(0, scale^2), are a parameter behind
  `stop_gradient`: never trained (Adam's update of a zero gradient is zero), but saved
  with the weights, so a checkpoint carries them.
  """
  dim: int
  scale: float = 16.0

  @nn.compact
  def __call__(self, c_noise):
    w = self.param("freqs", nn.initializers.normal(self.scale), (self.dim // 2,), jnp.float32)
    args = 2 * math.pi * c_noise.astype(jnp.float32)[:, None] * jax.lax.stop_gradient(w)[None]
    return jnp.concatenate([jnp.cos(args), jnp.sin(args)], axis=-1)


class ResBlock(nn.Module):
  """GroupNorm-SiLU-conv twice, the embedding added between, a 1x1 skip if widths differ."""
  features: int
  num_groups: int
  dropout: float
  dtype: object

  @nn.compact
  def __call__(self, x, emb, train: bool):
    conv = functools.partial(nn.Conv, kernel_size=(3, 3), dtype=self.dtype)
    h = nn.silu(nn.GroupNorm(num_groups=min(self.num_groups, x.shape[-1]), dtype=self.dtype)(x))
    h = conv(self.features)(h)
    h = h + nn.Dense(self.features, dtype=self.dtype)(emb)[:, None, None, :]
    h = nn.silu(nn.GroupNorm(num_groups=min(self.num_groups, self.features), dtype=self.dtype)(h))
    h = nn.Dropout(self.dropout, deterministic=not train)(h)
    h = conv(self.features, kernel_init=nn.initializers.zeros)(h)
    if x.shape[-1] != self.features:
      x = nn.Conv(self.features, (1, 1), dtype=self.dtype)(x)
    return (x + h) / math.sqrt(2.0)


class AttentionBlock(nn.Module):
  """Single-head self-attention over the H * W positions, residual: [B, H, W, C] -> same."""
  num_groups: int
  dtype: object

  @nn.compact
  def __call__(self, x):
    b, h, w, c = x.shape
    y = nn.GroupNorm(num_groups=min(self.num_groups, c), dtype=self.dtype)(x).reshape(b * h * w, c)
    qkv = nn.Dense(3 * c, dtype=self.dtype)(y).reshape(b, h * w, 3, c)
    q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
    weights = nn.softmax(jnp.einsum("bqc,bkc->bqk", q, k) / math.sqrt(c), axis=-1)
    y = jnp.einsum("bqk,bkc->bqc", weights, v).reshape(b * h * w, c)
    y = nn.Dense(c, dtype=self.dtype, kernel_init=nn.initializers.zeros)(y)
    return (x + y.reshape(b, h, w, c)) / math.sqrt(2.0)


class UNet(nn.Module):
  """F(x, c_noise, labels) -> float32 [B, R, R, channels]; see the module docstring.

  Attributes:
    resolution: the images' side R (a multiple of 2 ** (len(channel_mult) - 1)).
    channels: image channels C (1 or 3), in and out.
    base_channels: the width at full resolution; level i has base * channel_mult[i].
    channel_mult: one entry per resolution level.
    num_res_blocks: residual blocks per encoder level (the decoder has one more).
    attention_resolutions: sides at which self-attention follows each block.
    num_classes: K > 0 for a class-conditional net (labels int [B] in 0..K, K = null;
      labels None means the null class for every image).
    noise_embedding: "positional" or "fourier".
    dropout: dropout rate inside the residual blocks (training only).
    num_groups: GroupNorm groups (fewer where a layer is narrower).
    dtype: the computation dtype (parameters stay float32).
  """
  resolution: int
  channels: int
  base_channels: int = 32
  channel_mult: tuple = (1, 2, 2)
  num_res_blocks: int = 2
  attention_resolutions: tuple = (8,)
  num_classes: int = 0
  noise_embedding: str = "positional"
  dropout: float = 0.0
  num_groups: int = 8
  dtype: object = jnp.float32

  @nn.compact
  def __call__(self, x, c_noise, labels=None, train: bool = False):
    emb_dim = 4 * self.base_channels
    if self.noise_embedding == "fourier":
      emb = FourierEmbedding(self.base_channels)(c_noise)
    else:
      emb = positional_embedding(c_noise, self.base_channels)
    emb = nn.Dense(emb_dim, dtype=self.dtype)(emb)
    emb = nn.Dense(emb_dim, dtype=self.dtype)(nn.silu(emb))
    if self.num_classes:
      if labels is None:
        labels = jnp.full((x.shape[0],), self.num_classes, jnp.int32)
      emb = emb + nn.Embed(self.num_classes + 1, emb_dim, dtype=self.dtype)(labels)
    emb = nn.silu(emb)

    block = functools.partial(ResBlock, num_groups=self.num_groups, dropout=self.dropout, dtype=self.dtype)
    attend = functools.partial(AttentionBlock, num_groups=self.num_groups, dtype=self.dtype)
    h = nn.Conv(self.base_channels, (3, 3), dtype=self.dtype)(x.astype(self.dtype))
    skips = [h]
    size = self.resolution
    for level, mult in enumerate(self.channel_mult):
      for _ in range(self.num_res_blocks):
        h = block(self.base_channels * mult)(h, emb, train)
        if size in self.attention_resolutions:
          h = attend()(h)
        skips.append(h)
      if level < len(self.channel_mult) - 1:
        h = nn.Conv(h.shape[-1], (3, 3), strides=(2, 2), dtype=self.dtype)(h)
        size //= 2
        skips.append(h)

    h = block(h.shape[-1])(h, emb, train)
    h = attend()(h)
    h = block(h.shape[-1])(h, emb, train)

    for level, mult in reversed(list(enumerate(self.channel_mult))):
      for _ in range(self.num_res_blocks + 1):
        h = block(self.base_channels * mult)(jnp.concatenate([h, skips.pop()], axis=-1), emb, train)
        if size in self.attention_resolutions:
          h = attend()(h)
      if level > 0:
        h = jnp.repeat(jnp.repeat(h, 2, axis=1), 2, axis=2)  # Nearest-neighbour upsampling.
        h = nn.Conv(h.shape[-1], (3, 3), dtype=self.dtype)(h)
        size *= 2

    h = nn.silu(nn.GroupNorm(num_groups=min(self.num_groups, h.shape[-1]), dtype=self.dtype)(h))
    out = nn.Conv(self.channels, (3, 3), dtype=self.dtype, kernel_init=nn.initializers.zeros)(h)
    return out.astype(jnp.float32)
