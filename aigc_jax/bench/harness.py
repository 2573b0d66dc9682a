"""`aigc bench`: DCGAN step throughput against PyTorch and the machine's matmul limit.

Everything is measured in one process, in one run: the machine's float32 matrix-product
FLOP/s, the aigc_jax DCGAN step and the PyTorch reference step (interleaved rounds, so
drifts in machine load hit both), time to the first compiled step, and peak memory.
"""

import resource
import time

import jax
import jax.numpy as jnp
import numpy as np

from aigc_jax.bench import flops


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


def jax_dcgan_step(batch: int, resolution: int = 32, channels: int = 3):
  """Returns (step(), first_step_seconds): the library's real jitted GAN train step."""
  from aigc_jax import configlib
  from aigc_jax.train import loop, sharding
  from aigc_jax.train.task import get_task
  config = configlib.load_config("dcgan_digits")
  config.batch_size, config.data.resolution, config.data.channels = batch, resolution, channels
  task, mesh = get_task("gan"), sharding.make_mesh(jax.devices()[:1])
  t = time.perf_counter()
  state = loop.init_state(task, config, mesh)
  step_fn = loop.compile_train_step(task, config, mesh)
  real = np.random.default_rng(0).uniform(-1, 1, (batch, resolution, resolution, channels)).astype(np.float32)
  batch_arrays = sharding.shard_batch({"image": real}, mesh)
  holder = {"state": state, "i": 0}

  def step():
    holder["state"], _ = step_fn(holder["state"], batch_arrays, jax.random.key(holder["i"]))
    holder["i"] += 1
    jax.block_until_ready(holder["state"])
  step()
  return step, time.perf_counter() - t


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
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(batch: int = 128, resolution: int = 32, rounds: int = 3, per_round: int = 3,
        torch_reference: bool = True, log=print) -> dict:
  """Measures and returns the figures as a flat dict (see docs/benchmarks.md)."""
  out = {"device": str(jax.devices()[0].device_kind), "backend": jax.default_backend(),
         "batch": batch, "resolution": resolution}
  out["matmul_gflops"] = matmul_flops() / 1e9
  log(f"float32 matmul: {out['matmul_gflops']:.1f} GFLOP/s")
  jax_step, first = jax_dcgan_step(batch, resolution)
  out["dcgan_first_step_s"] = first
  out["peak_rss_mib_after_jax_compile"] = peak_rss_mib()
  steps = {"jax": jax_step}
  if torch_reference:
    try:
      from aigc_jax.bench import torch_dcgan
      steps["torch"] = torch_dcgan.make_step(batch, resolution)
      steps["torch"]()  # Warm-up.
    except ImportError:
      log("PyTorch is not installed (pip install -e '.[bench]'): no reference timing")
  secs = interleaved(steps, rounds, per_round)
  useful = flops.dcgan_step_flops(batch, resolution)
  out["dcgan_jax_images_per_s"] = batch / secs["jax"]
  out["dcgan_useful_gflops"] = useful / secs["jax"] / 1e9
  out["dcgan_peak_fraction"] = out["dcgan_useful_gflops"] / out["matmul_gflops"]
  if "torch" in secs:
    out["dcgan_torch_images_per_s"] = batch / secs["torch"]
    out["dcgan_ratio_vs_torch"] = secs["torch"] / secs["jax"]
  out["peak_rss_mib"] = peak_rss_mib()
  return out


def format_table(figures: dict) -> str:
  width = max(len(k) for k in figures)
  lines = []
  for k, v in figures.items():
    lines.append(f"{k:<{width}}  {v:.3f}" if isinstance(v, float) else f"{k:<{width}}  {v}")
  return "\n".join(lines)
