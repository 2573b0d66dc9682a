"""`aigc bench`: the library's steps against PyTorch references and the machine's limit.

Everything is measured in one process, in one run, row by row (`ROWS`, `--only`):

- "dcgan": the machine's float32 matrix-product FLOP/s; the library's real jitted DCGAN
  train step with the PyTorch seed's recipe (config `dcgan_digits:seed`: non-saturating
  loss, BatchNorm discriminator, Adam 2e-4 / 0.5) at 32x32 RGB, and the PyTorch
  reference of the same model, loss, optimizer and step (`torch_dcgan`), timed in
  interleaved rounds so that drifts in machine load hit both; the useful FLOP/s of the
  JAX step (`flops`) and its fraction of the matmul figure.
- "inception": pool3 feature extraction, this port against pytorch-fid on the same
  images, interleaved (random weights: the cost does not depend on their values).
- "cyclegan": the CycleGAN step at 128x128 (the paper's recipe for that size: batch 1,
  6 residual blocks, ngf = ndf = 64). No PyTorch reference (not cheap to keep equal).
- "vae": the convolutional VAE step of `vae_cifar10` (32x32 RGB, batch 128, discretized
  logistic) and its PyTorch reference (`torch_vae`).

For each JAX step: images/s (median of the rounds) and the time to the first compiled
step (initialisation, compilation and one step). Peak resident memory of the process
after each row (both frameworks: it only grows) and, on accelerators, the device's
peak bytes. `compute_dtype` "bfloat16" runs the training steps in mixed precision.
Timings are figures to read, never assertions in tests.
"""

import os
import resource
import time

import jax
import jax.numpy as jnp
import numpy as np

from aigc_jax import cpu_flags
from aigc_jax.bench import flops
from aigc_jax.bench.options import ROWS, Options
from aigc_jax.errors import UserError


def matmul_flops(n: int = 4096, repeats: int = 5) -> float:
  """The best float32 n x n matrix-product FLOP/s of `repeats` timed runs."""
  a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
  mm = jax.jit(lambda x, y: x @ y)
  mm(a, a).block_until_ready()
  best = min(_timed(lambda: mm(a, a).block_until_ready()) for _ in range(repeats))
  return 2 * n**3 / best


def _timed(fn) -> float:
  t = time.perf_counter()
  fn()
  return time.perf_counter() - t


def jax_train_step(config, batch: dict):
  """(step(), first_step_seconds) of `config`'s real train step on a fixed host batch.

  The step is the one `aigc train` runs (jitted, sharded on one device, state donated);
  the first-step time covers initialisation, compilation and that step.
  """
  from aigc_jax.train import loop, sharding
  from aigc_jax.train.task import get_task
  task, mesh = get_task(config.task), sharding.make_mesh(jax.devices()[:1])
  t = time.perf_counter()
  state = loop.init_state(task, config, mesh)
  step_fn = loop.compile_train_step(task, config, mesh)
  arrays = sharding.shard_batch(batch, mesh)
  holder = {"state": state, "i": 0}

  def step():
    holder["state"], _ = step_fn(holder["state"], arrays, jax.random.key(holder["i"]))
    holder["i"] += 1
    jax.block_until_ready(holder["state"])
  step()
  return step, time.perf_counter() - t


def _uniform_images(shape, seed: int = 0) -> np.ndarray:
  """float32 images on the 8-bit grid in [-1, 1], as the data pipeline delivers them."""
  return (np.random.default_rng(seed).integers(0, 256, shape) / 127.5 - 1.0).astype(np.float32)


def dcgan_config(opts: Options):
  """The seed's recipe at the benchmark's size (config `dcgan_digits:seed`)."""
  from aigc_jax import configlib
  config = configlib.load_config("dcgan_digits:seed")
  config.batch_size, config.data.resolution, config.data.channels = opts.batch, opts.resolution, 3
  config.compute_dtype = opts.compute_dtype
  return config


def cyclegan_config(opts: Options):
  """The paper's recipe at `cyclegan_size` (loaded at 286/256 of it and cropped, batch 1)."""
  from aigc_jax import configlib
  config = configlib.load_config("cyclegan_horse2zebra")
  config.data.crop_size = opts.cyclegan_size
  config.data.load_size = opts.cyclegan_size * 286 // 256
  config.model.n_blocks = opts.cyclegan_blocks
  config.model.ngf = config.model.ndf = opts.cyclegan_features
  config.compute_dtype = opts.compute_dtype
  return config


def vae_config(opts: Options):
  from aigc_jax import configlib
  config = configlib.load_config("vae_cifar10")
  config.batch_size = opts.vae_batch
  config.compute_dtype = opts.compute_dtype
  return config


def interleaved(steps: dict, rounds: int, per_round: int) -> dict:
  """Median seconds per call of each named function, timed in alternating rounds."""
  times = {name: [] for name in steps}
  for _ in range(rounds):
    for name, fn in steps.items():
      t = time.perf_counter()
      for _ in range(per_round):
        fn()
      times[name].append((time.perf_counter() - t) / per_round)
  return {name: float(np.median(v)) for name, v in times.items()}


def peak_rss_mib() -> float:
  """The process's peak resident memory so far (Linux reports KiB)."""
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def device_peak_mib():
  """The accelerator's peak bytes in use, in MiB; None where the backend keeps no count."""
  stats = jax.devices()[0].memory_stats() or {}
  peak = stats.get("peak_bytes_in_use")
  return None if peak is None else peak / 2**20


def _torch_device(opts: Options) -> str:
  import torch
  if opts.torch_threads:
    torch.set_num_threads(opts.torch_threads)
  if opts.torch_device:
    return opts.torch_device
  return "cuda" if torch.cuda.is_available() else "cpu"


def _torch_step(make, opts: Options, log, **kwargs):
  """A warmed-up PyTorch reference step, or None when PyTorch is not installed."""
  if not opts.torch_reference:
    return None
  try:
    step = make(device=_torch_device(opts), **kwargs)
  except ImportError:
    log("PyTorch is not installed (pip install -e '.[bench]'): no reference timing")
    return None
  step()
  return step


def _step_row(prefix: str, config, batch: dict, images_per_step: int, opts: Options, log,
              torch_step=None, per_round=None) -> dict:
  """Times `config`'s JAX step (and a PyTorch one, interleaved); the row's figures."""
  jax_step, first = jax_train_step(config, batch)
  out = {f"{prefix}_first_step_s": first}
  steps = {"jax": jax_step}
  if torch_step is not None:
    steps["torch"] = torch_step
  secs = interleaved(steps, opts.rounds, per_round or opts.per_round)
  out[f"{prefix}_jax_images_per_s"] = images_per_step / secs["jax"]
  if "torch" in secs:
    out[f"{prefix}_torch_images_per_s"] = images_per_step / secs["torch"]
    out[f"{prefix}_ratio_vs_torch"] = secs["torch"] / secs["jax"]
  log(", ".join(f"{k} {v:.3g}" for k, v in out.items()))
  return out


def dcgan_row(opts: Options, log=print) -> dict:
  out = {"matmul_gflops": matmul_flops(opts.matmul_size) / 1e9}
  log(f"float32 matmul: {out['matmul_gflops']:.1f} GFLOP/s")
  from aigc_jax.bench import torch_dcgan
  torch_step = _torch_step(torch_dcgan.make_step, opts, log, batch=opts.batch, resolution=opts.resolution)
  batch = {"image": _uniform_images((opts.batch, opts.resolution, opts.resolution, 3))}
  out.update(_step_row("dcgan", dcgan_config(opts), batch, opts.batch, opts, log, torch_step))
  seconds = opts.batch / out["dcgan_jax_images_per_s"]
  out["dcgan_useful_gflops"] = flops.dcgan_step_flops(opts.batch, opts.resolution) / seconds / 1e9
  out["dcgan_peak_fraction"] = out["dcgan_useful_gflops"] / out["matmul_gflops"]
  return out


def inception_row(opts: Options, log=print) -> dict:
  """Pool3 images/s of this port and of pytorch-fid on the same uint8 images."""
  from aigc_jax.metrics import bench, inception
  images = np.random.default_rng(0).integers(
      0, 256, (opts.inception_images, opts.inception_size, opts.inception_size, 3), dtype=np.uint8)
  jax_fn = bench.jax_pool3_fn(inception.init_variables(0), opts.inception_batch)
  first = _timed(lambda: jax_fn(images[:opts.inception_batch]))  # Compiles the network.
  fns = {"jax": jax_fn}
  if opts.torch_reference:
    try:
      fns["pytorch_fid"] = bench.pytorch_fid_pool3_fn(opts.inception_batch, _torch_device(opts))
    except ImportError:
      log("pytorch-fid is not installed (pip install -e '.[bench]'): no reference timing")
  rates = {name: float(np.median(r)) for name, r in bench.compare_throughput(fns, images, opts.rounds).items()}
  out = {"inception_first_batch_s": first, "inception_jax_images_per_s": rates["jax"]}
  if "pytorch_fid" in rates:
    out["inception_pytorch_fid_images_per_s"] = rates["pytorch_fid"]
    out["inception_ratio_vs_pytorch_fid"] = rates["jax"] / rates["pytorch_fid"]
  log(", ".join(f"{k} {v:.3g}" for k, v in out.items()))
  return out


def cyclegan_row(opts: Options, log=print) -> dict:
  config = cyclegan_config(opts)
  size = config.data.load_size
  batch = {d: _uniform_images((config.batch_size, size, size, 3), seed=i) for i, d in enumerate("AB")}
  return _step_row("cyclegan", config, batch, config.batch_size, opts, log, per_round=1)


def vae_row(opts: Options, log=print) -> dict:
  config = vae_config(opts)
  r, c = config.data.resolution, config.data.channels
  from aigc_jax.bench import torch_vae
  m, o = config.model, config.optimizer
  torch_step = _torch_step(
      torch_vae.make_step, opts, log, batch=opts.vae_batch, resolution=r, channels=c, latent_dim=m.latent_dim,
      features=tuple(m.features), hidden=m.hidden, lr=o.lr, grad_clip=o.grad_clip,
      min_log_scale=config.likelihood.min_log_scale)
  batch = {"image": _uniform_images((opts.vae_batch, r, r, c))}
  return _step_row("vae", config, batch, opts.vae_batch, opts, log, torch_step)


_ROW_FUNCTIONS = {"dcgan": dcgan_row, "inception": inception_row, "cyclegan": cyclegan_row, "vae": vae_row}


def run(opts: Options = Options(), log=print) -> dict:
  """Measures the rows of `opts` and returns the figures as one flat dict (docs/benchmarks.md)."""
  unknown = set(opts.rows) - set(ROWS)
  if unknown:
    raise UserError(f"unknown benchmark rows {', '.join(sorted(unknown))}; choose from {', '.join(ROWS)}")
  out = {"device": str(jax.devices()[0].device_kind), "backend": jax.default_backend(),
         "cpu_count": os.cpu_count(), "load_average_start": os.getloadavg()[0],
         "xla_flags": os.environ.get("XLA_FLAGS", ""),
         "cpu_convolutions": cpu_flags.cpu_convolution_library(),
         "compute_dtype": opts.compute_dtype, "batch": opts.batch, "resolution": opts.resolution}
  for row in ROWS:
    if row in opts.rows:
      out.update(_ROW_FUNCTIONS[row](opts, log))
      out[f"peak_rss_mib_after_{row}"] = peak_rss_mib()
      device_peak = device_peak_mib()
      if device_peak is not None:
        out[f"device_peak_mib_after_{row}"] = device_peak
  out["peak_rss_mib"] = peak_rss_mib()
  # Other jobs on the machine slow both frameworks, PyTorch's threads more (see
  # docs/benchmarks.md): the load says how far to trust the figures.
  out["load_average_end"] = os.getloadavg()[0]
  if opts.torch_reference and any(row in opts.rows for row in ("dcgan", "inception", "vae")):
    try:
      import torch
      out["torch_threads"] = torch.get_num_threads()
    except ImportError:
      pass
  return out


def format_table(figures: dict) -> str:
  width = max(len(k) for k in figures)
  lines = []
  for k, v in figures.items():
    lines.append(f"{k:<{width}}  {v:.3f}" if isinstance(v, float) else f"{k:<{width}}  {v}")
  return "\n".join(lines)
