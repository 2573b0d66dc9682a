"""`aigc sample` for a restoration run: its restorations of corrupted test images."""

from aigc_jax.data import pipeline
from aigc_jax.errors import UserError
from aigc_jax.train import restoration


def sample(run, key, num: int, labels=None, attributes=None):
  """The model's restorations uint8 [num, R, R, C] of the first `num` test images,
  corrupted with the run's evaluation mask kind (or noise) drawn from `key`."""
  if labels or attributes:
    raise UserError("--labels/--attributes are for conditional GANs, not restoration runs")
  opts = run.opts
  images = restoration.held_out_images(opts, num)
  kind = opts.mask.eval_type if opts.mode == "inpaint" else None
  corrupted, mask = restoration.fixed_corruption(opts, images, key, kind)
  return pipeline.to_uint8(restoration.restore(opts, run.state, corrupted, mask))
