"""What `aigc eval` reports for a generator's samples: the task metrics for its dataset,
and the Inception metrics (FID / IS / KID) when asked for with `--metrics`."""

from aigc_jax.errors import UserError

INCEPTION_METRICS = ("fid", "is", "kid")


def generator_metrics(config, images_uint8, options: dict, labels=None) -> dict:
  """Metrics of generated uint8 images [N, H, W, C] of a run trained with `config`."""
  if len(images_uint8) < 10:
    raise UserError(f"--num-samples must be at least 10 (Inception Scores use 10 splits), "
                    f"got {len(images_uint8)}")
  result = {"num_samples": int(len(images_uint8)), "step": options.get("step")}
  if config.data.name == "digits":
    from aigc_jax.evaluation import digits_metrics
    data_dir = config.data.get("data_dir")
    result.update(digits_metrics.digits_metrics(images_uint8, data_dir, labels=labels))
    result.update(digits_metrics.real_reference(data_dir))
  requested = options.get("metrics") or []
  unknown = [m for m in requested if m not in INCEPTION_METRICS]
  if unknown:
    raise UserError(f"unknown metric(s) {', '.join(unknown)}; choose from {', '.join(INCEPTION_METRICS)}")
  if requested:
    from aigc_jax import metrics
    ref_images = None
    if options.get("ref") is None:
      from aigc_jax.data import load_images
      ref_images = load_images(config.data.name, "test", config.data)
    result.update(metrics.images_metrics(
        images_uint8, metrics=tuple(requested), weights_path=options.get("inception_weights"),
        ref_path=options.get("ref"), ref_images=ref_images))
  return {k: v for k, v in result.items() if v is not None}
