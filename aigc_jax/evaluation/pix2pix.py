"""What `aigc eval` reports for a pix2pix run: how close its translations of the held-out
pairs are to their targets, next to the identity baseline.

`l1` (mean absolute error on the [0, 1] scale), `psnr` and `ssim` of the model's
outputs against the targets; `psnr_near_edges` and `ssim_near_edges` on the pixels
near the input's edges (`aigc_jax.crf.near_guide_edges`), where a CRF guided by the input
should matter; the same for the identity (the input itself, when input and target have
the same channels); with `--metrics fid`, the FID of the outputs against the targets.
"""

import numpy as np

from aigc_jax import crf as crf_lib
from aigc_jax.data import paired, pipeline
from aigc_jax.errors import UserError
from aigc_jax.restoration import metrics as image_metrics
from aigc_jax.train import keys, pix2pix


def scores(outputs01, targets01, near_edges=None) -> dict:
  """l1, psnr, ssim (and their near-edge forms) of float [N, H, W, C] images in [0, 1]."""
  out = {"l1": float(np.mean(np.abs(outputs01 - targets01))),
         "psnr": float(np.nanmean(image_metrics.psnr(outputs01, targets01))),
         "ssim": float(np.nanmean(image_metrics.ssim(outputs01, targets01)))}
  if near_edges is not None:
    out["psnr_near_edges"] = float(np.nanmean(image_metrics.psnr(outputs01, targets01, near_edges)))
    out["ssim_near_edges"] = float(np.nanmean(image_metrics.ssim(outputs01, targets01, near_edges)))
  return out


def evaluate(run, *, num_samples=None, seed=0, metrics=None, ref=None, inception_weights=None) -> dict:
  """Scores of the model and the identity on the first `num_samples` test pairs (all)."""
  requested = metrics or []
  if set(requested) - {"fid"}:
    raise UserError(f"a pix2pix run reports l1, psnr, ssim, and fid with --metrics fid; "
                    f"not {', '.join(sorted(set(requested) - {'fid'}))}")
  opts = run.opts
  pairs = paired.test_pairs(opts.data.config, num_samples)
  x = pipeline.to_model_range(pairs["input"])
  outputs = pix2pix.translate_batch(opts, run.state, x, keys.stream_key(seed, "eval"))
  targets01 = pairs["target"].astype(np.float32) / 255
  edges = np.asarray(crf_lib.near_guide_edges(x))
  result = {"step": int(run.state.step), "num_pairs": int(len(x)), "test_mode": opts.test_mode}
  result.update(scores(np.clip((outputs + 1) / 2, 0, 1), targets01, edges))
  if pairs["input"].shape[-1] == pairs["target"].shape[-1]:
    identity = scores(pairs["input"].astype(np.float32) / 255, targets01, edges)
    result.update({f"{k}_identity": v for k, v in identity.items()})
  if "fid" in requested:
    from aigc_jax import metrics as metrics_lib
    result["fid"] = metrics_lib.images_metrics(
        pipeline.to_uint8(outputs), metrics=("fid",), weights_path=inception_weights, ref_path=ref,
        ref_images=None if ref else pairs["target"])["fid"]
  return result
