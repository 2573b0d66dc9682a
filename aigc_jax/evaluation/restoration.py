"""What `aigc eval` reports for a restoration run, and how the baselines were tuned.

`evaluate` restores the test split with the run's model, with non-local means (the
run's `nlmeans` parameters) and with the trivial `mean_fill`, and reports
`psnr_<method>` and `ssim_<method>` over whole images and, for inpainting,
`psnr_hole_<method>` and `ssim_hole_<method>` over the holes
(`aigc_jax.restoration.metrics`), method in model, nlmeans, mean_fill (and noisy, the
input itself, when denoising).
"""

import dataclasses
import itertools

import numpy as np

from aigc_jax.errors import UserError
from aigc_jax.restoration import baselines, masks as masks_lib, metrics
from aigc_jax.train import keys, restoration


def _nlmeans(opts, corrupted01, mask, nl=None):
  nl = nl or opts.nlmeans
  return baselines.nlmeans_restore(opts.mode, corrupted01, mask, patch_size=nl.patch_size,
                                   patch_distance=nl.patch_distance, h=nl.h, sigma=opts.noise_sigma)


def _eval_kind(opts, mask_type) -> str | None:
  if opts.mode == "denoise":
    if mask_type:
      raise UserError("--mask-type is for inpainting runs; this run denoises (noise_sigma in its config)")
    return None
  kind = mask_type or opts.mask.eval_type
  if kind not in masks_lib.MASKS:
    raise UserError(f"unknown mask type {kind!r}; choose one of {', '.join(masks_lib.MASKS)}")
  return kind


def evaluate(run, *, num_samples=None, seed=0, mask_type=None) -> dict:
  """PSNR and SSIM of the model, non-local means and mean fill on the test split (the
  first `num_samples` test images; all by default)."""
  opts, state = run.opts, run.state
  kind = _eval_kind(opts, mask_type)
  images = restoration.held_out_images(opts, num_samples)
  corrupted, mask4 = restoration.fixed_corruption(opts, images, keys.stream_key(seed, "eval"), kind)
  mask = mask4[..., 0] > 0.5
  clean01, corrupted01 = (images + 1) / 2, (corrupted + 1) / 2
  results = {
      "model": (restoration.restore(opts, state, corrupted, mask4) + 1) / 2,
      "nlmeans": _nlmeans(opts, corrupted01, mask),
      "mean_fill": baselines.mean_fill(opts.mode, corrupted01, mask),
  }
  if opts.mode == "denoise":
    results["noisy"] = corrupted01
  out = {"step": int(state.step), "num_images": int(len(images)), "mode": opts.mode}
  out.update({"mask_type": kind} if kind else {"noise_sigma": float(opts.noise_sigma)})
  size = opts.ssim_filter_size
  for method, restored01 in results.items():
    x = np.clip(restored01, 0, 1)
    out[f"psnr_{method}"] = float(np.nanmean(metrics.psnr(x, clean01)))
    out[f"ssim_{method}"] = float(np.nanmean(metrics.ssim(x, clean01, filter_size=size)))
    if opts.mode == "inpaint":
      out[f"psnr_hole_{method}"] = float(np.nanmean(metrics.psnr(x, clean01, mask)))
      out[f"ssim_hole_{method}"] = float(np.nanmean(metrics.ssim(x, clean01, mask, filter_size=size)))
  return out


def nlmeans_grid_search(opts, grid: dict, num_images: int = 128, seed: int = 5) -> list[dict]:
  """Scores non-local means parameters on the first `num_images` *training* images.

  `grid` maps "patch_size", "patch_distance" and "h" to lists of values; every
  combination restores the same corrupted images (centre masks when inpainting, the
  run's noise when denoising). Returns one dict per combination with its parameters
  and `psnr` / `ssim` (over the holes when inpainting), best PSNR first: how the shipped
  configs' `nlmeans` values were chosen without looking at the test split.
  """
  import jax
  from aigc_jax.data import restoration_data
  images = restoration_data.split_images(opts.config, "train", num_images)
  kind = "center" if opts.mode == "inpaint" else None
  corrupted, mask4 = restoration.fixed_corruption(opts, images, jax.random.key(seed), kind)
  mask, clean01 = mask4[..., 0] > 0.5, (images + 1) / 2
  region = mask if opts.mode == "inpaint" else None
  results = []
  names = ("patch_size", "patch_distance", "h")
  for values in itertools.product(*(grid[n] for n in names)):
    trial = dataclasses.replace(opts.nlmeans, **dict(zip(names, values)))
    out = np.clip(_nlmeans(opts, (corrupted + 1) / 2, mask, trial), 0, 1)
    results.append({**dict(zip(names, values)),
                    "psnr": float(np.nanmean(metrics.psnr(out, clean01, region))),
                    "ssim": float(np.nanmean(metrics.ssim(out, clean01, region)))})
  return sorted(results, key=lambda r: -r["psnr"])
