"""The Gaussian CRF's cost per image (aigc_jax.crf.gaussian_crf): forward, and forward and
backward (the gradient with respect to the output, the guide and the three parameters,
what a training step pays), at each size: the median over rounds of the wall time and of
the process's CPU time per call (on a loaded machine the CPU time is the steadier
figure: about the wall time an idle machine would give, times the threads XLA used),
with the machine's load.

  python scripts/bench_crf.py [--sizes 64 256] [--window 5] [--iterations 10] [--rounds 7]

RGB output and RGB guide, one image per call (batch 1, as pix2pix trains). Results go
to docs/pix2pix.md ("The CRF's cost").
"""

import argparse
import os
import time

import jax
import jax.numpy as jnp

import numpy as np

from aigc_jax import crf


def programs(size: int, window: int, iterations: int):
  """{"forward": fn, "forward+backward": fn}, compiled, on one random [1, size, size, 3] image;
  each fn() runs one call to completion."""
  k1, k2 = jax.random.split(jax.random.key(0))
  y = jax.random.uniform(k1, (1, size, size, 3), minval=-1, maxval=1)
  guide = jax.random.uniform(k2, (1, size, size, 3), minval=-1, maxval=1)
  params = (jnp.float32(1.0), jnp.float32(2.0), jnp.float32(0.3))
  refine = lambda y, g, p: crf.gaussian_crf(y, g, lam=p[0], theta_a=p[1], theta_b=p[2], window=window,
                                            iterations=iterations)
  forward = jax.jit(refine)
  backward = jax.jit(jax.grad(lambda y, g, p: jnp.sum(refine(y, g, p) ** 2), argnums=(0, 1, 2)))
  calls = {}
  for name, fn in (("forward", forward), ("forward+backward", backward)):
    calls[name] = lambda fn=fn: jax.block_until_ready(fn(y, guide, params))
    calls[name]()  # Compile outside the timing.
  return calls


def medians(calls: dict, rounds: int) -> dict:
  """{name: (median wall seconds, median CPU seconds)} over `rounds` rounds, the calls
  interleaved within each round so that a change in load hits them alike."""
  times = {name: [] for name in calls}
  for _ in range(rounds):
    for name, call in calls.items():
      wall, cpu = time.perf_counter(), time.process_time()
      call()
      times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
  return {name: tuple(np.median(np.asarray(v), axis=0)) for name, v in times.items()}


def main():
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--sizes", type=int, nargs="+", default=[64, 256])
  p.add_argument("--window", type=int, default=5)
  p.add_argument("--iterations", type=int, default=10)
  p.add_argument("--rounds", type=int, default=7)
  args = p.parse_args()
  print(f"load before: {os.getloadavg()}; window {args.window}, K = {args.iterations}, {jax.devices()[0].platform}")
  for size in args.sizes:
    result = medians(programs(size, args.window, args.iterations), args.rounds)
    print(f"{size}x{size}: " + ", ".join(f"{name} {1000 * w:.1f} ms wall, {1000 * c:.1f} ms CPU per image"
                                         for name, (w, c) in result.items()))
  print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
  main()
