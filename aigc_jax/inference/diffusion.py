"""What a trained diffusion run does: draw samples, of given classes, with a chosen
number of sampler steps and guidance scale.

  run = inference.load("runs/diffusion_digits")
  images = diffusion.sample(run, jax.random.key(0), 16, labels=["3", "7"], steps=18, guidance=2.0)

`steps` are Heun steps (2 * steps - 1 network evaluations; `config.sampler.method`
"euler": one each). `guidance` is the scale g of D = D_uncond + g (D_cond - D_uncond):
1 (the default of the shipped configs) samples the plain conditional model, 0 the
unconditional one, above 1 trades diversity for fidelity to the label.
"""

import numpy as np

from aigc_jax.data import pipeline
from aigc_jax.errors import UserError
from aigc_jax.train import diffusion


def class_ids(opts, labels, num: int):
  """Label names -> int32 [num] class ids, cycled; every class in turn without names;
  None for an unconditional run (where names are an error)."""
  k = opts.model.num_classes
  if not k:
    if labels:
      raise UserError("this run is unconditional; --labels needs a class-conditional diffusion run "
                      "(configs/diffusion_digits.py without :uncond)")
    return None
  if not labels:
    return np.arange(num, dtype=np.int32) % k
  return np.resize(pipeline.dataset_info(opts.data.config).label_indices(labels), num).astype(np.int32)


def sample(run, key, num: int, labels=None, attributes=None, steps=None, guidance=None) -> np.ndarray:
  """`num` samples uint8 [num, R, R, C] from the run's EMA weights; `labels` are class
  names, cycled over the samples; `steps` and `guidance` default to the run's
  `config.sampler`."""
  if attributes:
    raise UserError("diffusion runs are not conditioned on attributes; use --labels")
  ids = class_ids(run.opts, labels, num)
  return diffusion.generate(run.opts, run.state, key, num, ids, steps=steps, guidance=guidance)
