"""What `aigc eval` reports for a CycleGAN run: the cycle error on the test images, and
with `--metrics fid` the FID of translated test A images against test B."""

import numpy as np

from aigc_jax.data import cyclegan_data, pipeline
from aigc_jax.errors import UserError
from aigc_jax.train import cyclegan


def cycle_errors(run, num: int | None = None):
  """Mean L1 (in [-1, 1] units) of A -> B -> A and B -> A -> B over the test images.

  Returns ({"A": error, "B": error}, {"A": uint8 translations of test A (fake B images),
  "B": those of test B}); at most `num` test images per domain (all if None).
  """
  errors, fakes = {}, {}
  for direction, (source, _) in cyclegan.DIRECTIONS.items():
    images = cyclegan_data.test_images(run.opts.config.data, source, num)
    real = pipeline.to_model_range(images)
    fake, rec = cyclegan.cycle(run.opts, run.state, real, direction)
    errors[source] = float(np.sum(np.abs(rec - real), dtype=np.float64)) / images.size
    fakes[source] = pipeline.to_uint8(fake)
  return errors, fakes


def evaluate(run, *, num_samples=None, metrics=None, ref=None, inception_weights=None) -> dict:
  """`cycle_error` (the mean of `cycle_error_a`, A -> B -> A, and `cycle_error_b`) on the
  test split (at most `num_samples` images per domain), and `fid` when asked for."""
  requested = metrics or []
  if set(requested) - {"fid"}:
    raise UserError("a CycleGAN run reports cycle_error, and fid with --metrics fid; "
                    f"not {', '.join(sorted(set(requested) - {'fid'}))}")
  errors, fakes = cycle_errors(run, num_samples)
  result = {"step": int(run.state.step), "num_test_a": len(fakes["A"]), "num_test_b": len(fakes["B"]),
            "cycle_error_a": errors["A"], "cycle_error_b": errors["B"],
            "cycle_error": (errors["A"] + errors["B"]) / 2}
  if "fid" in requested:
    from aigc_jax import metrics as metrics_lib
    ref_images = None if ref else cyclegan_data.test_images(run.opts.config.data, "B")
    result["fid"] = metrics_lib.images_metrics(
        fakes["A"], metrics=("fid",), weights_path=inception_weights, ref_path=ref,
        ref_images=ref_images)["fid"]
  return result
