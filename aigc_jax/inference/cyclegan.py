"""What a trained CycleGAN does: translate images of any size between its two domains.

  run = inference.load("runs/cyclegan_photos")
  zebra = cyclegan.translate(run, horse_uint8, "AtoB")     # uint8 [H, W, 3], same size
"""

import numpy as np

from aigc_jax.data import pipeline
from aigc_jax.errors import UserError
from aigc_jax.train import cyclegan


def translate(run, image, direction: str = "AtoB") -> np.ndarray:
  """One uint8 image [H, W, 3] (any size of at least 8x8) -> its translation, uint8 [H, W, 3].

  The generator needs sides that are multiples of 4: the image is padded by reflection
  at the bottom and right up to the next multiple and the output cropped back.
  """
  if direction not in cyclegan.DIRECTIONS:
    raise UserError(f"unknown direction {direction!r}; choose one of {', '.join(cyclegan.DIRECTIONS)}")
  image = np.asarray(image)
  if image.ndim != 3 or image.shape[-1] != 3:
    raise UserError(f"translate needs an RGB image [H, W, 3], got shape {image.shape}")
  h, w = image.shape[:2]
  if min(h, w) < cyclegan.MIN_SIZE:
    raise UserError(f"image is {h}x{w}; CycleGAN needs at least {cyclegan.MIN_SIZE}x{cyclegan.MIN_SIZE} pixels")
  m = cyclegan.MULTIPLE
  x = pipeline.to_model_range(np.pad(image, ((0, -h % m), (0, -w % m), (0, 0)), mode="reflect"))[None]
  return pipeline.to_uint8(cyclegan.translate_batch(run.opts, run.state, x, direction)[0, :h, :w])


def sample(run, key, num, labels=None, attributes=None):
  del key, num, labels, attributes
  raise UserError("a CycleGAN translates images instead of sampling them: use "
                  f"`aigc translate --workdir {run.workdir} --input IMAGE_OR_FOLDER --out OUT [--direction BtoA]`")
