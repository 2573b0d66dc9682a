"""The text encoder and the image encoder of image-text matching, as Flax Linen modules.

`TextEncoder`: token ids int32 [B, L] (the words, then padding from the first id 0 on) -> word features
[B, L, width] and a sentence embedding [B, embed_dim]. A small pre-norm transformer
(Vaswani et al., 2017): token and learned position embeddings, `depth` blocks of
self-attention and an MLP; attention never looks at padding, and the sentence is the
mean of the words' features over the real tokens, so what sits in the padding changes
nothing. A transformer rather than AttnGAN's bidirectional LSTM: the same job on
captions this short, and it trains in parallel over the words.

`ImageEncoder`: images [B, R, R, C] in [-1, 1] -> an embedding [B, embed_dim]: stride-2
3x3 convolutions with LayerNorm and GELU down to 4x4 or less, then a Dense layer. It
is the image side of the contrastive pre-training (AttnGAN's DAMSM uses an Inception
net on its larger images; digits need far less).

Both outputs are raw (not normalised); the losses (`aigc_jax.text.losses`) normalise.
"""

import flax.linen as nn
import jax.numpy as jnp


class TextEncoder(nn.Module):
  """Token ids [B, L] -> (words float32 [B, L, width], sentence float32 [B, embed_dim])."""
  vocab_size: int
  max_len: int
  width: int = 64
  depth: int = 2
  heads: int = 4
  embed_dim: int = 64

  @nn.compact
  def __call__(self, tokens):
    if tokens.shape[-1] != self.max_len:
      raise ValueError(f"expected tokens [B, {self.max_len}], got {tokens.shape}")
    # The words end at the first padding id (0); everything after it is padding,
    # whatever ids it holds.
    real = jnp.cumprod(tokens > 0, axis=-1).astype(bool)  # [B, L]
    x = nn.Embed(self.vocab_size, self.width, embedding_init=nn.initializers.normal(0.02), name="tokens")(tokens)
    position = self.param("position", nn.initializers.normal(0.02), (self.max_len, self.width))
    x = x + position[None]
    mask = nn.make_attention_mask(real, real)  # [B, 1, L, L]: query and key both real.
    for i in range(self.depth):
      h = nn.LayerNorm(name=f"attn_norm_{i}")(x)
      x = x + nn.MultiHeadDotProductAttention(num_heads=self.heads, name=f"attn_{i}")(h, h, mask=mask)
      h = nn.LayerNorm(name=f"mlp_norm_{i}")(x)
      h = nn.Dense(4 * self.width, name=f"mlp_in_{i}")(h)
      x = x + nn.Dense(self.width, name=f"mlp_out_{i}")(nn.gelu(h))
    words = nn.LayerNorm(name="final_norm")(x) * real[..., None]
    count = jnp.maximum(jnp.sum(real, axis=1, keepdims=True), 1)
    sentence = jnp.sum(words, axis=1) / count
    return words, nn.Dense(self.embed_dim, name="sentence")(sentence)


class ImageEncoder(nn.Module):
  """Images [B, R, R, C] in [-1, 1] -> embedding float32 [B, embed_dim]."""
  features: int = 32
  embed_dim: int = 64

  @nn.compact
  def __call__(self, images):
    x = images
    width = self.features
    while x.shape[1] > 4:
      x = nn.Conv(width, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))(x)
      x = nn.gelu(nn.LayerNorm(reduction_axes=(-3, -2, -1), feature_axes=-1)(x))
      width *= 2
    x = nn.gelu(nn.Conv(width, (3, 3), padding=((1, 1), (1, 1)))(x))
    return nn.Dense(self.embed_dim)(x.reshape(x.shape[0], -1))
