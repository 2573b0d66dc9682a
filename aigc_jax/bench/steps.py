"""The timed train step of a benchmark row: the real `aigc train` step of a config,
its PyTorch references warmed up, and both timed interleaved into a row's figures.

Shared by the rows of `harness` and `diffusion`; figures are keyed
`<row>_<dtype>_<figure>` (docs/benchmarks.md).
"""

import time

import jax
import numpy as np

from aigc_jax.bench import flops, timing
from aigc_jax.bench.options import Options


def jax_train_step(config, batch: dict):
  """(timing.Step, first_step_seconds, XLA FLOPs per step or None) of `config`'s real
  train step on a fixed host batch.

  The step is the one `aigc train` runs (jitted, sharded on one device, state donated);
  the first-step time covers initialisation, compilation and that step.
  """
  from aigc_jax.train import loop, sharding
  from aigc_jax.train.task import parse_config
  (task, task_opts), mesh = parse_config(config), sharding.make_mesh(jax.devices()[:1])
  start = time.perf_counter()
  state = loop.init_state(task, task_opts, mesh)
  step_fn = loop.compile_train_step(task, task_opts, mesh)
  arrays = sharding.shard_batch(batch, mesh)
  holder = {"state": state, "i": 0}

  def run():
    holder["state"], _ = step_fn(holder["state"], arrays, jax.random.key(holder["i"]))
    holder["i"] += 1

  def wait():
    jax.block_until_ready(holder["state"])
  step_flops = flops.xla_flops(step_fn, state, arrays, jax.random.key(0))
  run()
  wait()
  return timing.Step(run, wait), time.perf_counter() - start, step_flops


def uniform_images(shape, seed: int = 0) -> np.ndarray:
  """float32 images on the 8-bit grid in [-1, 1], as the data pipeline delivers them."""
  return (np.random.default_rng(seed).integers(0, 256, shape) / 127.5 - 1.0).astype(np.float32)


def torch_device(opts: Options) -> str:
  import torch
  if opts.torch_threads:
    torch.set_num_threads(opts.torch_threads)
  if opts.torch_device:
    return opts.torch_device
  return "cuda" if torch.cuda.is_available() else "cpu"


def warm(step: timing.Step, calls: int = 2) -> timing.Step:
  for _ in range(calls):  # torch.compile compiles on the first calls.
    step.run()
  step.wait()
  return step


def torch_steps(make, opts: Options, dtype: str, prefix: str, log, **kwargs):
  """({"torch": Step, "torch_compile": Step}, notes) of the warmed-up PyTorch references.

  A reference that does not run is left out, and `notes` says why under
  "<prefix>_torch_skipped" or "<prefix>_torch_compile_skipped", so the JSON shows it.
  """
  if not opts.torch_reference:
    return {}, {}
  try:
    device = torch_device(opts)
  except ImportError:
    log("PyTorch is not installed (pip install -e '.[bench]'): no reference timing")
    return {}, {f"{prefix}_torch_skipped": "PyTorch is not installed"}
  steps = {"torch": warm(make(device=device, dtype=dtype, **kwargs))}
  notes = {}
  if opts.torch_compile == "off" or (opts.torch_compile == "auto" and device == "cpu"):
    why = "--torch-compile off" if opts.torch_compile == "off" else (
        "not run on a CPU by default (Inductor builds C++ kernels for minutes); --torch-compile on runs it")
    notes[f"{prefix}_torch_compile_skipped"] = why
    return steps, notes
  try:
    steps["torch_compile"] = warm(make(device=device, dtype=dtype, compile=True, **kwargs))
  except Exception as e:  # Inductor needs a compiler and a supported device; record why not.
    reason = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"[:300]
    log(f"torch.compile failed: {reason}")
    notes[f"{prefix}_torch_compile_skipped"] = reason
  return steps, notes


def step_row(name: str, dtype: str, config, batch: dict, images_per_step: int, opts: Options, peaks: dict,
              log, torch_make=None, torch_kwargs=None, per_round=None, useful_flops=None) -> dict:
  """Times `config`'s JAX step on `batch` against its PyTorch references
  (`torch_make(device=, dtype=, compile=, **torch_kwargs)`), interleaved; the figures.

  `useful_flops` per step, where counted from the architecture, else XLA's count.
  """
  prefix = f"{name}_{dtype}"
  jax_step, first, xla_step_flops = jax_train_step(config, batch)
  out = {f"{prefix}_first_step_s": first}
  steps = {"jax": jax_step}
  if torch_make is not None:
    ref_steps, notes = torch_steps(torch_make, opts, dtype, prefix, log, **torch_kwargs)
    steps.update(ref_steps)
    out.update(notes)
  secs = timing.interleaved(steps, opts.rounds, per_round or opts.per_round)
  out[f"{prefix}_jax_images_per_s"] = images_per_step / secs["jax"]
  for ref in ("torch", "torch_compile"):
    if ref in secs:
      out[f"{prefix}_{ref}_images_per_s"] = images_per_step / secs[ref]
      out[f"{prefix}_ratio_vs_{ref}"] = secs[ref] / secs["jax"]
  step_flops, kind = (useful_flops, "useful") if useful_flops else (xla_step_flops, "xla")
  if step_flops:
    out[f"{prefix}_{kind}_gflops"] = step_flops / secs["jax"] / 1e9
    if peaks.get(dtype):
      out[f"{prefix}_peak_fraction"] = out[f"{prefix}_{kind}_gflops"] / peaks[dtype]
  log(", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in out.items()))
  return out
