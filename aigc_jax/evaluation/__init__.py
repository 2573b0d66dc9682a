"""Evaluation of trained runs: what `aigc eval` reports for each family.

`evaluate(run, **flags)` calls the family's `evaluate` (`evaluation.gan`, `.vae`,
`.cyclegan`, `.restoration`) with the flags it takes; a flag a family does not take is a
one-line error naming it. The shipped digits classifier and its metrics are in
`digits_classifier` and `digits_metrics`.
"""

import importlib
import inspect

from aigc_jax.errors import UserError

# config.task -> the module whose `evaluate(run, **flags)` scores a run of that family.
FAMILIES = {
    "gan": "aigc_jax.evaluation.gan",
    "vae": "aigc_jax.evaluation.vae",
    "cyclegan": "aigc_jax.evaluation.cyclegan",
    "restoration": "aigc_jax.evaluation.restoration",
    "pix2pix": "aigc_jax.evaluation.pix2pix",
    "text_encoder": "aigc_jax.evaluation.text_encoder",
    "text2img": "aigc_jax.evaluation.text2img",
    "diffusion": "aigc_jax.evaluation.diffusion",
}


def evaluate(run, **flags) -> dict:
  """The family's metrics of `run` (a loaded `aigc_jax.inference.Run`) as one dict.

  `flags` maps option names (num_samples, seed, metrics, ref, inception_weights,
  iwae_samples, mask_type) to values; those left None are not passed.
  """
  fn = importlib.import_module(FAMILIES[run.config.task]).evaluate
  accepted = set(inspect.signature(fn).parameters) - {"run"}
  given = {k: v for k, v in flags.items() if v is not None}
  extra = sorted(set(given) - accepted)
  if extra:
    names = ", ".join("--" + k.replace("_", "-") for k in extra)
    raise UserError(f"{names} does not apply to a {run.config.task!r} run")
  return fn(run, **given)
