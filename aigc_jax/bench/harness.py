"""`aigc bench`: the library's steps against PyTorch references and the machine's peak.

Everything is measured in one process, in one run: first the matrix-product peak of
each compute dtype (and float32 at 'highest' precision when the Inception row runs),
then row by row (`ROWS`, `--only`), each training-step row once per dtype of `dtypes`:

- "dcgan": the library's real jitted DCGAN train step with the PyTorch seed's recipe
  (config `dcgan_digits:seed`: non-saturating loss, BatchNorm discriminator, Adam 2e-4 /
  0.5) on RGB images, and the PyTorch reference of the same model, loss, optimizer and
  step (`torch_dcgan`), eager and under `torch.compile`, timed in interleaved rounds so
  that drifts in machine load hit all alike; the useful FLOP/s of the JAX step
  (`flops.dcgan_step_flops`) and its fraction of the same dtype's matmul peak.
- "inception": pool3 feature extraction, this port against pytorch-fid on the same
  images with the same (random, calibrated) weights, both in full float32, interleaved;
  the largest feature difference.
- "cyclegan": the CycleGAN step (the paper's recipe: batch 1, ngf = ndf, residual
  blocks). No PyTorch reference (not cheap to keep equal).
- "vae": the convolutional VAE step of `vae_cifar10` (32x32 RGB, discretized logistic)
  and its PyTorch reference (`torch_vae`), eager and compiled.
- "diffusion": the U-Net's EDM train step of `diffusion_digits:edm` and its Heun sampler,
  each against the PyTorch reference of the same network and algorithm (`torch_unet`),
  eager and compiled (`aigc_jax.bench.diffusion`).

Rows other than the DCGAN and the diffusion rows report XLA's FLOP count of the lowered
step as FLOP/s and its fraction of the peak. Each row also reports the time to the first
compiled step (initialisation, compilation and one step) and memory: the process's peak
resident memory, JAX's device peak (where the backend counts it) and PyTorch's CUDA peak.
Figures are keyed `<row>_<dtype>_<figure>` in one flat dict (docs/benchmarks.md).
Timings are figures to read, never assertions in tests.
"""

import os
import sys

import jax
import numpy as np

from aigc_jax import cpu_flags
from aigc_jax.bench import flops, steps, timing
from aigc_jax.bench.options import DTYPES, ROWS, TORCH_COMPILE, Options
from aigc_jax.errors import UserError


def dcgan_config(opts: Options, dtype: str):
  """The seed's recipe at the benchmark's size (config `dcgan_digits:seed`), RGB."""
  from aigc_jax import configlib
  config = configlib.load_config("dcgan_digits:seed")
  config.batch_size, config.data.resolution, config.data.channels = opts.batch, opts.resolution, 3
  config.compute_dtype = dtype
  return config


def cyclegan_config(opts: Options, dtype: str):
  """The paper's recipe at `cyclegan_size` (loaded at 286/256 of it and cropped, batch 1)."""
  from aigc_jax import configlib
  config = configlib.load_config("cyclegan_horse2zebra")
  config.data.crop_size = opts.cyclegan_size
  config.data.load_size = opts.cyclegan_size * 286 // 256
  config.model.n_blocks = opts.cyclegan_blocks
  config.model.ngf = config.model.ndf = opts.cyclegan_features
  config.compute_dtype = dtype
  return config


def vae_config(opts: Options, dtype: str):
  from aigc_jax import configlib
  config = configlib.load_config("vae_cifar10")
  config.batch_size = opts.vae_batch
  config.compute_dtype = dtype
  return config


def dcgan_row(opts: Options, dtype: str, peaks: dict, log=print) -> dict:
  from aigc_jax.bench import torch_dcgan
  batch = {"image": steps.uniform_images((opts.batch, opts.resolution, opts.resolution, 3))}
  useful = flops.dcgan_step_flops(opts.batch, opts.resolution)
  return steps.step_row("dcgan", dtype, dcgan_config(opts, dtype), batch, opts.batch, opts, peaks, log,
                   torch_make=torch_dcgan.make_step, useful_flops=useful,
                   torch_kwargs=dict(batch=opts.batch, resolution=opts.resolution))


def cyclegan_row(opts: Options, dtype: str, peaks: dict, log=print) -> dict:
  config = cyclegan_config(opts, dtype)
  size = config.data.load_size
  batch = {d: steps.uniform_images((config.batch_size, size, size, 3), seed=i) for i, d in enumerate("AB")}
  return steps.step_row("cyclegan", dtype, config, batch, config.batch_size, opts, peaks, log,
                   per_round=opts.cyclegan_per_round)


def vae_row(opts: Options, dtype: str, peaks: dict, log=print) -> dict:
  from aigc_jax.bench import torch_vae
  config = vae_config(opts, dtype)
  r, c = config.data.resolution, config.data.channels
  m, o = config.model, config.optimizer
  batch = {"image": steps.uniform_images((opts.vae_batch, r, r, c))}
  return steps.step_row(
      "vae", dtype, config, batch, opts.vae_batch, opts, peaks, log, torch_make=torch_vae.make_step,
      torch_kwargs=dict(batch=opts.vae_batch, resolution=r, channels=c, latent_dim=m.latent_dim,
                        features=tuple(m.features), hidden=m.hidden, lr=o.lr, grad_clip=o.grad_clip,
                        min_log_scale=config.likelihood.min_log_scale))


def inception_row(opts: Options, peaks: dict, log=print) -> dict:
  """Pool3 images/s of this port and of pytorch-fid on the same uint8 images and weights."""
  from aigc_jax.bench import inception as bench_inception
  from aigc_jax.metrics import inception
  n, size, b = opts.inception_images, opts.inception_size, opts.inception_batch
  images = np.random.default_rng(0).integers(0, 256, (n, size, size, 3), dtype=np.uint8)
  fns, variables, out = {}, None, {}
  if opts.torch_reference:
    try:
      from aigc_jax.bench import torch_inception
      wrapper, net = torch_inception.pytorch_fid_inception()
      device = steps.torch_device(opts)
      wrapper, net = wrapper.to(device), net.to(device)
      torch_inception.calibrate(wrapper, net, [images[:min(n, 4)]])
      variables = inception.params_from_torch_state_dict(torch_inception.state_dict_numpy(net))
      fns["pytorch_fid"] = torch_inception.pool3_fn(wrapper, b)
    except ImportError:
      log("pytorch-fid is not installed (pip install -e '.[bench]'): no reference timing")
      out["inception_pytorch_fid_skipped"] = "pytorch-fid is not installed"
  if variables is None:
    variables = inception.init_variables(0)
  jax_fn = bench_inception.jax_pool3_fn(variables, b)
  out["inception_first_batch_s"] = timing.seconds(lambda: jax_fn(images[:b]))  # Compiles the network.
  rates, first = bench_inception.images_per_second({"jax": jax_fn, **fns}, images, b, opts.rounds)
  out["inception_jax_images_per_s"] = rates["jax"]
  if "pytorch_fid" in rates:
    out["inception_pytorch_fid_images_per_s"] = rates["pytorch_fid"]
    out["inception_ratio_vs_pytorch_fid"] = rates["jax"] / rates["pytorch_fid"]
    out["inception_max_abs_diff"] = float(np.abs(first["jax"] - first["pytorch_fid"]).max())
    out["inception_mean_abs_feature"] = float(np.abs(first["pytorch_fid"]).mean())
  per_batch = flops.xla_flops(inception._network, variables, jax.ShapeDtypeStruct((b, 299, 299, 3), np.float32))
  if per_batch:
    out["inception_xla_gflops"] = per_batch / b * rates["jax"] / 1e9
    if peaks.get("float32_highest"):
      out["inception_peak_fraction"] = out["inception_xla_gflops"] / peaks["float32_highest"]
  log(", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in out.items()))
  return out


def diffusion_row(opts: Options, dtype: str, peaks: dict, log=print) -> dict:
  from aigc_jax.bench import diffusion
  return diffusion.row(opts, dtype, peaks, log)


_STEP_ROWS = {"dcgan": dcgan_row, "cyclegan": cyclegan_row, "vae": vae_row, "diffusion": diffusion_row}


def _check(opts: Options) -> None:
  for what, given, known in (("rows", opts.rows, ROWS), ("dtypes", opts.dtypes, DTYPES)):
    unknown = [x for x in given if x not in known]
    if unknown:
      raise UserError(f"unknown benchmark {what} {', '.join(unknown)}; choose from {', '.join(known)}")
  if opts.torch_compile not in TORCH_COMPILE:
    raise UserError(f"torch_compile must be one of {', '.join(TORCH_COMPILE)}, got {opts.torch_compile!r}")


def matmul_peaks(opts: Options, log=print) -> dict:
  """{dtype: GFLOP/s} of the matrix product in each of opts.dtypes, plus "float32_highest"
  when the Inception row runs (its convolutions ask for full float32)."""
  wanted = [(d, d, None) for d in opts.dtypes]
  if "inception" in opts.rows:
    wanted.append(("float32_highest", "float32", "highest"))
  peaks = {}
  for name, dtype, precision in wanted:
    peaks[name] = timing.matmul_flops(dtype, opts.matmul_size, precision) / 1e9
    log(f"{name} matmul ({opts.matmul_size}^3): {peaks[name]:.1f} GFLOP/s")
  return peaks


def _memory(out: dict, label: str) -> None:
  out[f"peak_rss_mib_after_{label}"] = timing.peak_rss_mib()
  device = timing.device_memory_mib()
  if "peak" in device:
    out[f"device_peak_mib_after_{label}"] = device["peak"]
  torch_peak = timing.torch_cuda_peak_mib()
  if torch_peak is not None:
    out[f"torch_cuda_peak_mib_{label}"] = torch_peak


def run(opts: Options = Options(), log=print, on_row=None) -> dict:
  """Measures the rows of `opts` and returns the figures as one flat dict (docs/benchmarks.md).

  `on_row(figures so far)` is called after each row, so a caller can save partial results
  of a run that may be cut short.
  """
  _check(opts)
  out = {"device": str(jax.devices()[0].device_kind), "backend": jax.default_backend(),
         "jax_version": jax.__version__, "device_count": jax.device_count(),
         "cpu_count": os.cpu_count(), "load_average_start": os.getloadavg()[0],
         "xla_flags": os.environ.get("XLA_FLAGS", ""),
         "cpu_convolutions": cpu_flags.cpu_convolution_library(),
         "dtypes": list(opts.dtypes), "options": opts._asdict()}
  limit = timing.device_memory_mib().get("limit")
  if limit is not None:
    out["device_memory_limit_mib"] = limit
  peaks = matmul_peaks(opts, log)
  out.update({f"matmul_{name}_gflops": v for name, v in peaks.items()})
  for row in ROWS:
    if row not in opts.rows:
      continue
    if row == "inception":
      out.update(inception_row(opts, peaks, log))
      _memory(out, row)
    else:
      for dtype in opts.dtypes:
        out.update(_STEP_ROWS[row](opts, dtype, peaks, log))
        _memory(out, f"{row}_{dtype}")
    if on_row is not None:
      on_row(out)
  out["peak_rss_mib"] = timing.peak_rss_mib()
  # Other jobs on the machine slow both frameworks, PyTorch's threads more (see
  # docs/benchmarks.md): the load says how far to trust the figures.
  out["load_average_end"] = os.getloadavg()[0]
  if opts.torch_reference and "torch" in sys.modules:  # Only a run that timed PyTorch reports it.
    torch = sys.modules["torch"]
    out["torch_version"], out["torch_threads"] = torch.__version__, torch.get_num_threads()
  return out


def format_table(figures: dict) -> str:
  width = max(len(k) for k in figures)
  lines = []
  for k, v in figures.items():
    lines.append(f"{k:<{width}}  {v:.3f}" if isinstance(v, float) else f"{k:<{width}}  {v}")
  return "\n".join(lines)
