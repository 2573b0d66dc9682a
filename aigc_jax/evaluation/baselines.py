"""Several runs scored on the same held-out data into one table: a model, its baselines
and its CRF variant side by side, each row the mean and spread over the runs of a group
(the seeds).

`aigc eval` scores one run; this module scores a paired task's translators (pix2pix runs,
a CycleGAN run trained on the same data unpaired, the identity) on one set of test pairs,
and restoration runs on their own corrupted test images, with the same metrics:

  table = baselines.compare({"pix2pix": ["runs/p2p_s0", "runs/p2p_s1"], "CycleGAN": [...]},
                            data=configlib.load_config("pix2pix_digits").data, fid=True)
  print(baselines.markdown(table))

Metrics: `l1` (mean absolute error, [0, 1] scale), `psnr`, `ssim` over whole images, and
`psnr_near_edges`, `ssim_near_edges` over the pixels near the guide's edges
(`aigc_jax.crf.near_guide_edges`), where a CRF guided by the input should matter; for a
translation the guide is the input, for denoising the clean image (the noisy input's
"edges" are its noise). With `fid`, `digits_fid` (the digits classifier's Frechet
distance to the real test digits) where the outputs are digits.
"""

import numpy as np

from aigc_jax import crf as crf_lib
from aigc_jax import images as images_lib
from aigc_jax.data import export, paired, pipeline
from aigc_jax.errors import UserError
from aigc_jax.evaluation import pix2pix as pix2pix_eval
from aigc_jax.train import keys

IDENTITY = "identity"
METRICS = ("l1", "psnr", "ssim", "psnr_near_edges", "ssim_near_edges", "digits_fid")


def _is_digits(data_config) -> bool:
  """Whether a run's outputs are `digits` images: the digits_edges pairs' targets, or the
  embedded dataset itself (restoration runs)."""
  return data_config.get("source") == "digits_edges" or data_config.get("name") == "digits"


def translations(run, inputs_uint8, target_channels: int, seed: int = 0) -> np.ndarray:
  """A translator run's outputs for uint8 inputs [N, H, W, Cin]: uint8 [N, H, W, target_channels].

  pix2pix runs translate with their `test_mode`; CycleGAN runs with their A -> B generator
  on the inputs as RGB, outputs converted to the target's channels (luma for grey)."""
  task = run.config.task
  if task == "pix2pix":
    from aigc_jax.train import pix2pix
    out = pix2pix.translate_batch(run.opts, run.state, pipeline.to_model_range(inputs_uint8),
                                  keys.stream_key(seed, "eval"))
  elif task == "cyclegan":
    from aigc_jax.train import cyclegan
    out = cyclegan.translate_batch(run.opts, run.state, pipeline.to_model_range(images_lib.to_channels(inputs_uint8, 3)))
  else:
    raise UserError(f"{run.workdir!r} is a {task!r} run; a translation table takes pix2pix and CycleGAN runs")
  return images_lib.to_channels(pipeline.to_uint8(np.clip(out, -1, 1)), target_channels)


def _scores(outputs_uint8, targets_uint8, near_edges, fid: bool) -> dict:
  out = pix2pix_eval.scores(outputs_uint8.astype(np.float32) / 255, targets_uint8.astype(np.float32) / 255, near_edges)
  if fid:
    from aigc_jax.evaluation import digits_metrics
    out["digits_fid"] = float(digits_metrics.digits_metrics(outputs_uint8)["digits_fid"])
  return out


def score_translators(workdirs, data, *, num_samples=None, seed: int = 0, fid: bool = False) -> list[dict]:
  """One score dict per workdir (pix2pix or CycleGAN runs) on the test pairs of `data`
  (a paired `config.data`); `fid` adds `digits_fid` (digits targets only)."""
  from aigc_jax import inference
  pairs = paired.test_pairs(data, num_samples)
  if fid and not _is_digits(data):
    raise UserError("digits_fid needs digit outputs (data.source digits_edges)")
  edges = crf_lib.near_guide_edges(pipeline.to_model_range(pairs["input"]))
  cout = pairs["target"].shape[-1]
  results = []
  for workdir in workdirs:
    run = inference.load(workdir)
    outputs = translations(run, pairs["input"], cout, seed)
    results.append({"step": int(run.state.step), **_scores(outputs, pairs["target"], edges, fid)})
  return results


def score_identity(data, *, num_samples=None, fid: bool = False) -> dict:
  """The identity (the input as the output) on the test pairs, when it means something:
  input and target of the same channels, or a grey input with an RGB target."""
  pairs = paired.test_pairs(data, num_samples)
  cout = pairs["target"].shape[-1]
  edges = crf_lib.near_guide_edges(pipeline.to_model_range(pairs["input"]))
  return _scores(images_lib.to_channels(pairs["input"], cout), pairs["target"], edges, fid and _is_digits(data))


def score_restorers(workdirs, *, num_samples=None, seed: int = 0, fid: bool = False) -> tuple[list[dict], dict]:
  """Restoration runs on their test images, corrupted as `aigc eval` corrupts them (the
  same `seed`: the same noise or masks for every run of one config): (one score dict per
  workdir, the corrupted input's scores). Near edges means near the clean image's edges."""
  from aigc_jax import inference
  from aigc_jax.train import restoration
  results, corrupted_scores = [], None
  for workdir in workdirs:
    run = inference.load(workdir)
    opts = run.opts
    if run.config.task != "restoration":
      raise UserError(f"{workdir!r} is a {run.config.task!r} run; a restoration table takes restoration runs")
    images = restoration.held_out_images(opts, num_samples)
    kind = opts.mask.eval_type if opts.mode == "inpaint" else None
    corrupted, mask = restoration.fixed_corruption(opts, images, keys.stream_key(seed, "eval"), kind)
    outputs = restoration.restore(opts, run.state, corrupted, mask)
    edges = crf_lib.near_guide_edges(images)
    targets = pipeline.to_uint8(images)
    digits = fid and _is_digits(opts.config.data)
    results.append({"step": int(run.state.step), **_scores(pipeline.to_uint8(np.clip(outputs, -1, 1)), targets, edges,
                                                           digits)})
    if corrupted_scores is None:
      corrupted_scores = _scores(pipeline.to_uint8(np.clip(corrupted, -1, 1)), targets, edges, digits)
  return results, corrupted_scores


def summary(results: list[dict]) -> dict:
  """{metric: (mean, std over the runs, number of runs)} for the metrics present;
  std is the sample standard deviation (ddof 1; 0 for one run)."""
  out = {}
  for name in METRICS:
    values = [r[name] for r in results if name in r]
    if values:
      out[name] = (float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0, len(values))
  return out


def markdown(rows: dict) -> str:
  """{row name: `summary` dict} -> a markdown table, "mean +- std" per cell ("n runs" column)."""
  names = [m for m in METRICS if any(m in s for s in rows.values())]
  digits = {"l1": 4, "psnr": 2, "ssim": 3, "psnr_near_edges": 2, "ssim_near_edges": 3, "digits_fid": 2}
  lines = ["| | runs | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
  for row, s in rows.items():
    count = max((v[2] for v in s.values()), default=0)
    cells = []
    for m in names:
      if m not in s:
        cells.append("")
      elif s[m][2] > 1:
        cells.append(f"{s[m][0]:.{digits[m]}f} ± {s[m][1]:.{digits[m]}f}")
      else:
        cells.append(f"{s[m][0]:.{digits[m]}f}")
    lines.append(f"| {row} | {count if row != IDENTITY else '-'} | " + " | ".join(cells) + " |")
  return "\n".join(lines)


def export_unpaired(data, out_dir: str) -> dict:
  """Writes the pairs of a paired `data` config as an unpaired CycleGAN folder: trainA/
  and testA/ the inputs, trainB/ and testB/ the targets, at `data.crop_size` (CycleGAN's
  own loader resizes to its `load_size`). Returns {split folder: number of images}."""
  import os
  counts = {}
  for split in paired.SPLITS:
    source = paired.pairs(data, split, data.crop_size)
    items = [source[i] for i in range(len(source))]
    for domain, index in (("A", 0), ("B", 1)):
      name = f"{split}{domain}"
      export.write_images(np.stack([item[index] for item in items]), os.path.join(out_dir, name))
      counts[name] = len(items)
  return counts


def figure_rows(workdirs, data, *, num: int = 10, seed: int = 0) -> np.ndarray:
  """The rows of a comparison figure on the first `num` test pairs of `data`: the input,
  each workdir's translation (in the order given), the target. uint8 [(2 + R) * num, H,
  W, Cout], row after row, for `images.save_grid(rows, path, ncols=num)`."""
  from aigc_jax import inference
  pairs = paired.test_pairs(data, num)
  cout = pairs["target"].shape[-1]
  rows = [images_lib.to_channels(pairs["input"], cout)]
  rows += [translations(inference.load(w), pairs["input"], cout, seed) for w in workdirs]
  return np.concatenate(rows + [pairs["target"]])
