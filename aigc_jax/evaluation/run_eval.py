"""What `aigc eval` reports for a generator's samples: the task metrics for its dataset,
and the Inception metrics (FID / IS / KID) when asked for with `--metrics`."""

from aigc_jax.errors import UserError

INCEPTION_METRICS = ("fid", "is", "kid")


def generator_metrics(data, images_uint8, *, step: int, metrics=None, ref=None, inception_weights=None,
                      labels=None) -> dict:
  """Metrics of generated uint8 images [N, H, W, C] of a run trained on `data` (its
  `ImageData` options): on digits the shipped classifier's scores (and, with `labels`
  [N], the conditional accuracy); with `metrics` names of INCEPTION_METRICS, those
  against `ref` statistics or the dataset's test split."""
  if len(images_uint8) < 10:
    raise UserError(f"--num-samples must be at least 10 (Inception Scores use 10 splits), "
                    f"got {len(images_uint8)}")
  result = {"num_samples": int(len(images_uint8)), "step": step}
  if data.name == "digits":
    from aigc_jax.evaluation import digits_metrics
    data_dir = data.config.get("data_dir")
    result.update(digits_metrics.digits_metrics(images_uint8, data_dir, labels=labels))
    result.update(digits_metrics.real_reference(data_dir))
  requested = metrics or []
  unknown = [m for m in requested if m not in INCEPTION_METRICS]
  if unknown:
    raise UserError(f"unknown metric(s) {', '.join(unknown)}; choose from {', '.join(INCEPTION_METRICS)}")
  if requested:
    from aigc_jax import metrics as metrics_lib
    ref_images = None
    if ref is None:
      from aigc_jax.data import load_images
      ref_images = load_images(data.name, "test", data.config)
    result.update(metrics_lib.images_metrics(
        images_uint8, metrics=tuple(requested), weights_path=inception_weights, ref_path=ref,
        ref_images=ref_images))
  return {k: v for k, v in result.items() if v is not None}
