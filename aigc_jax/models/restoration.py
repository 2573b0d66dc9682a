"""The restoration network: an encoder-decoder with skip connections and a dilated bottleneck.

One network serves inpainting and denoising (Pathak et al.'s context encoder, with the
U-Net skips of pix2pix and the dilated middle of Iizuka et al.'s completion network):

  input:  the corrupted image [B, H, W, C] in [-1, 1] (holes set to 0) joined to the mask
          [B, H, W, 1] (1 = missing; all zeros for denoising)
  output: the restored image [B, H, W, C] in [-1, 1] (tanh)

`depth` stride-2 convolutions halve the size each (so H and W must be multiples of
2**depth; `aigc inpaint` pads other sizes); a stack of residual dilated 3x3 convolutions
widens the receptive field at the lowest resolution; the decoder upsamples by nearest
neighbour resize plus a 3x3 convolution (no transposed convolutions: no checkerboard
artifacts, and XLA on CPU is slow on input-dilated convolutions) and joins each level's
encoder features. There is no normalisation layer: outputs depend only on each input
image, so a restored image never changes with what else is in the batch.

With `crf` set (a `aigc_jax.crf.CRFOptions`), the tanh output is refined by a
`aigc_jax.crf.CRFLayer` guided by the corrupted input image (the degraded image is the
condition), trained end to end; without it the network and its parameters are exactly
those of a network that never had the option.

The discriminator of the adversarial loss is `aigc_jax.models.patchgan.PatchDiscriminator`.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from aigc_jax import crf as crf_lib


class RestorationNet(nn.Module):
  """(corrupted [B, H, W, C], mask [B, H, W, 1]) -> restored [B, H, W, C], all in [-1, 1]."""
  channels: int
  features: int = 32  # Width of the first level; each lower level doubles it.
  depth: int = 2  # Number of stride-2 downsamplings.
  dilations: tuple = (1, 2, 4)  # One residual 3x3 convolution per entry, at the bottom.
  dtype: jnp.dtype = jnp.float32  # The computation's dtype; parameters stay float32.
  crf: crf_lib.CRFOptions | None = None  # A last CRF layer guided by `corrupted`, or none.

  @nn.compact
  def __call__(self, corrupted, mask):
    conv = lambda f, k, **kw: nn.Conv(f, (k, k), dtype=self.dtype, **kw)
    act = lambda x: nn.leaky_relu(x, 0.2)
    x = jnp.concatenate([corrupted, mask.astype(corrupted.dtype)], axis=-1).astype(self.dtype)
    x = act(conv(self.features, 3)(x))
    skips = [x]
    width = self.features
    for _ in range(self.depth):
      width *= 2
      x = act(conv(width, 4, strides=(2, 2))(x))
      x = act(conv(width, 3)(x))
      skips.append(x)
    for d in self.dilations:
      x = x + act(conv(width, 3, kernel_dilation=(d, d))(x))
    for skip in reversed(skips[:-1]):
      width //= 2
      b, h, w, c = x.shape
      x = jax.image.resize(x, (b, 2 * h, 2 * w, c), "nearest")
      x = act(conv(width, 3)(x))
      x = act(conv(width, 3)(jnp.concatenate([x, skip], axis=-1)))
    out = jnp.tanh(conv(self.channels, 3)(x)).astype(jnp.float32)
    if self.crf is not None:
      # The guide is the degraded image itself: its holes are mid grey (a flat region
      # the refinement smooths across) and its noise makes guide distances noisy, which
      # a learned theta_b can widen to ignore.
      out = crf_lib.CRFLayer(self.crf, name="crf")(out, corrupted.astype(jnp.float32))
    return out


def multiple(depth: int) -> int:
  """The number H and W must be multiples of for a network of this `depth`."""
  return 2**depth
