"""Timers, the machine's matrix-product peak and memory peaks, shared by every bench row.

A step to time is a `Step(run, wait)`: `run()` dispatches one step and may return before
the device has finished (JAX and CUDA both queue work); `wait()` blocks until all
dispatched work is done. Timing a round of several `run()`s and one `wait()` keeps a
host sync out of every step, as a training loop does.
"""

import resource
import sys
import time
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class Step(NamedTuple):
  run: Callable[[], object]
  wait: Callable[[], object]


def seconds(fn) -> float:
  """Wall-clock seconds of one call of fn()."""
  start = time.perf_counter()
  fn()
  return time.perf_counter() - start


def interleaved(steps: dict, rounds: int, per_round: int) -> dict:
  """Median seconds per step of each named Step, timed in alternating rounds.

  Round r times `per_round` runs of every step in turn (A, B, A, B, ...), so a change in
  the machine's state (clocks, other load) hits all of them alike.
  """
  times = {name: [] for name in steps}
  for _ in range(rounds):
    for name, step in steps.items():
      start = time.perf_counter()
      for _ in range(per_round):
        step.run()
      step.wait()
      times[name].append((time.perf_counter() - start) / per_round)
  return {name: float(np.median(v)) for name, v in times.items()}


def matmul_flops(dtype: str = "float32", n: int = 4096, precision: str | None = None,
                 repeats: int = 5, min_seconds: float = 0.05) -> float:
  """The best FLOP/s of an n x n by n x n matrix product in `dtype`, of `repeats` timings.

  `precision` None is JAX's default, what the training steps get: on NVIDIA GPUs float32
  products then run on the tensor cores in TF32; "highest" asks for full float32, as the
  Inception network does. Each timing chains enough products to last `min_seconds`, so
  on a fast device the dispatch of one product does not dominate its time.
  """
  a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32).astype(dtype)
  mm = jax.jit(lambda x, y: jnp.matmul(x, y, precision=precision))
  mm(a, a).block_until_ready()
  one = seconds(lambda: mm(a, a).block_until_ready())
  inner = max(1, int(min_seconds / max(one, 1e-9)))

  def chain():
    for _ in range(inner):
      out = mm(a, a)
    out.block_until_ready()
  best = min(seconds(chain) for _ in range(repeats))
  return 2 * n**3 * inner / best


def peak_rss_mib() -> float:
  """The process's peak resident memory so far, in MiB (Linux reports KiB)."""
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def device_memory_mib() -> dict:
  """JAX's device memory figures in MiB: {"peak": ..., "limit": ...}; {} on backends that
  keep no count (the CPU). The peak is the process's so far: JAX cannot reset it."""
  stats = jax.devices()[0].memory_stats() or {}
  names = {"peak": "peak_bytes_in_use", "limit": "bytes_limit"}
  return {k: stats[v] / 2**20 for k, v in names.items() if v in stats}


def torch_cuda_peak_mib(reset: bool = True):
  """PyTorch's peak CUDA memory since the last reset, in MiB (then reset); None where
  PyTorch was not imported or has no GPU."""
  torch = sys.modules.get("torch")
  if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
    return None
  peak = torch.cuda.max_memory_allocated() / 2**20
  if reset:
    torch.cuda.reset_peak_memory_stats()
  return peak
