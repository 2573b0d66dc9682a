"""What a trained pix2pix run does: translate images of any size, optionally refined by a
CRF guided by the input after the fact.

  run = inference.load("runs/pix2pix_digits")
  digit = pix2pix.translate(run, edges_uint8)                  # uint8 [H, W, Cout]
  smooth = pix2pix.translate(run, edges_uint8, crf=crf.CRFOptions(lam=2.0, learnable=False))
"""

import jax
import numpy as np

from aigc_jax import crf as crf_lib
from aigc_jax import images as images_lib
from aigc_jax.data import pipeline
from aigc_jax.errors import UserError
from aigc_jax.models import unet
from aigc_jax.train import pix2pix


def translate(run, image, *, crf: crf_lib.CRFOptions | None = None, seed: int = 0, mode: str | None = None):
  """One uint8 image [H, W, C] (C = 1 or 3, converted to the run's input channels) -> its
  translation uint8 [H, W, Cout]. The image is padded by reflection to a multiple of the
  U-Net's 2**levels and the output cropped back; `crf` refines the output with fixed
  parameters, guided by the input; `mode` overrides the run's `test_mode`."""
  opts = run.opts
  cin, _ = pix2pix.channels(opts)
  image = images_lib.to_channels(np.asarray(image), cin)
  h, w = image.shape[:2]
  m = 2 ** unet.levels_for(opts.data.crop_size)
  pad = ((0, -h % m), (0, -w % m), (0, 0))
  if min(h, w) < 2 and any(p[1] for p in pad[:2]):
    raise UserError(f"image is {h}x{w}; too small to translate")
  x = pipeline.to_model_range(np.pad(image, pad, mode="reflect" if min(h, w) > 1 else "edge"))[None]
  out = pix2pix.translate_batch(opts, run.state, x, jax.random.key(seed), mode)
  if crf is not None:
    out = np.asarray(crf_lib.refine(out, x, crf))
  return pipeline.to_uint8(out[0, :h, :w])


def sample(run, key, num, labels=None, attributes=None):
  del key, num, labels, attributes
  raise UserError("a pix2pix run translates images instead of sampling them: use "
                  f"`aigc translate --workdir {run.workdir} --input IMAGE_OR_FOLDER --out OUT`")
