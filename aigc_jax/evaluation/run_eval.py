"""What `aigc eval` reports for a generator's samples: the task metrics for its dataset,
and the Inception metrics (FID, IS, KID, precision, recall, density, coverage,
intra-class FID) when asked for with `--metrics`."""

from aigc_jax.errors import UserError
from aigc_jax.evaluation import memorisation


def generator_metrics(data, images_uint8, *, step: int, metrics=None, ref=None, inception_weights=None,
                      labels=None, classifier=None) -> dict:
  """Metrics of generated uint8 images [N, H, W, C] of a run trained on `data` (its
  `ImageData` options): on digits the shipped classifier's scores (and, with `labels`
  [N], the conditional accuracy and intra-class FID); with `metrics` names of
  `aigc_jax.metrics.images.METRICS`, those against `ref` statistics or the dataset's
  test split (the k-NN metrics and KID need the split's images themselves, intra_fid
  its labels too). The memorised share (`evaluation.memorisation`) comes with the digits
  scores, and in Inception space with the metric name "memorisation". With `classifier`
  (a file of `evaluation.classifier`, trained on the run's dataset), that classifier's
  IS, FID and conditional accuracy and their real-data ceiling (`classifier_metrics`).

  In a multi-process run every process calls this with the same images and gets the
  same figures: the digits classifier splits its chunks over all processes' devices,
  and the Inception features (of the samples, the test split and, for the memorised
  share, the training split) are split into per-process shares and brought together
  (`metrics.images._collect`)."""
  if len(images_uint8) < 10:
    raise UserError(f"--num-samples must be at least 10 (Inception Scores use 10 splits), "
                    f"got {len(images_uint8)}")
  result = {"num_samples": int(len(images_uint8)), "step": step}
  if data.name == "digits":
    from aigc_jax.evaluation import digits_metrics
    data_dir = data.config.get("data_dir")
    result.update(digits_metrics.digits_metrics(images_uint8, data_dir, labels=labels))
    result.update(digits_metrics.real_reference(data_dir))
    result.update(memorisation.digits_shares(images_uint8, data_dir))
  if classifier is not None:
    from aigc_jax.evaluation import classifier as classifier_lib, classifier_metrics
    trained = classifier_lib.load(classifier)
    result.update(classifier_metrics.classifier_metrics(trained, data.config, images_uint8, labels=labels))
    result.update(classifier_metrics.real_reference(trained, data.config))
  requested = metrics or []
  from aigc_jax.metrics.images import METRICS
  unknown = [m for m in requested if m not in (*METRICS, memorisation.METRIC)]
  if unknown:
    raise UserError(f"unknown metric(s) {', '.join(unknown)}; choose from {', '.join(METRICS)}, "
                    f"{memorisation.METRIC}")
  if "intra_fid" in requested and labels is None:
    raise UserError("intra_fid is for class-conditional runs")
  if memorisation.METRIC in requested:
    result.update(memorisation.inception_shares(data, images_uint8, inception_weights))
    requested = [m for m in requested if m != memorisation.METRIC]
  if requested:
    from aigc_jax import metrics as metrics_lib
    ref_images = ref_labels = None
    if ref is None or set(requested) - {"fid", "is"}:
      from aigc_jax.data import load_images
      ref_images = load_images(data.name, "test", data.config)
      if "intra_fid" in requested:
        from aigc_jax.data import pipeline
        ref_labels = pipeline.make_dataset(data.config, "test", batch_size=len(ref_images), train=False,
                                           process_index=0, process_count=1)[0]["label"]
    result.update(metrics_lib.images_metrics(
        images_uint8, metrics=tuple(requested), weights_path=inception_weights, ref_path=ref,
        ref_images=ref_images, labels=labels, ref_labels=ref_labels))
  return {k: v for k, v in result.items() if v is not None}
