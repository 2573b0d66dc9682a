r"""Benchmark of the folder data source: preparation, loader and train-step images/s, peak memory.

Writes a folder of N generated 64x64 RGB PNGs (smooth random colour fields in 10 class
folders, so they compress like photos rather than noise), then measures
- preparation: `aigc_jax.data.folder.prepare` on all cores, images/s;
- loader: the training stream of `configs/dcgan_folder.py` at 64x64 (grain reader
  threads, batch 64), images/s over `--loader-batches` batches;
- train step: `train_and_evaluate` of that config (`--steps` steps after a compile run
  of 2), images/s including the data loading and the final grid and checkpoint;
and prints the peak resident memory of this process after preparing and loading (before
anything compiles), after training, and of the decoding workers.

  python scripts/bench_data.py --num 10000 --out /tmp/bench_data

A benchmark, not a test: figures go to docs/benchmarks.md ("Folder data") with the load.
"""

import argparse
import os
import resource
import time

import numpy as np
from PIL import Image


def write_folder(root, num, size=64, seed=0):
  rng = np.random.default_rng(seed)
  for i in range(num):
    path = os.path.join(root, f"class{i % 10}", f"{i:07d}.png")
    if i < 10:
      os.makedirs(os.path.dirname(path), exist_ok=True)
    field = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)  # Upsampled: smooth, photo-like.
    Image.fromarray(field).resize((size, size), Image.BICUBIC).save(path)


def peak_mib(who):
  return resource.getrusage(who).ru_maxrss / 1024


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--num", type=int, default=10000)
  parser.add_argument("--out", default="/tmp/bench_data")
  parser.add_argument("--loader-batches", type=int, default=100)
  parser.add_argument("--steps", type=int, default=20, help="train steps timed; 0 skips training")
  args = parser.parse_args()
  from aigc_jax import configlib
  from aigc_jax.data import folder, pipeline
  from aigc_jax.train import loop

  images = os.path.join(args.out, f"images_{args.num}")
  if not os.path.isdir(images):
    write_folder(images, args.num)
  config = configlib.load_config("dcgan_folder")
  config.data.path, config.data.data_dir = images, os.path.join(args.out, "data")
  t = time.perf_counter()
  reused = os.path.isdir(folder.prepared_dir(folder.discover(images), config.data.data_dir))
  folder.prepare_for(config.data, progress=False)
  prep_s = time.perf_counter() - t
  workers_peak = peak_mib(resource.RUSAGE_CHILDREN)  # Before training starts any other child.
  stream = pipeline.train_batches(config.data, batch_size=config.batch_size, seed=0)
  next(stream)
  t = time.perf_counter()
  for _ in range(args.loader_batches):
    next(stream)
  loader = args.loader_batches * config.batch_size / (time.perf_counter() - t)
  data_peak = peak_mib(resource.RUSAGE_SELF)  # Before training compiles anything.
  step, step_s = float("nan"), float("nan")
  if args.steps:
    workdir = os.path.join(args.out, f"run_{args.num}_{os.getpid()}")
    config.num_steps, config.sample_every, config.checkpoint_every = 2, 10**9, 10**9
    loop.train_and_evaluate(config, workdir, progress=False)  # Compiles.
    config.num_steps = 2 + args.steps
    t = time.perf_counter()
    loop.train_and_evaluate(config, workdir, progress=False)
    step_s = time.perf_counter() - t
    step = args.steps * config.batch_size / step_s
  what = "found prepared" if reused else "preparation"
  print(f"images {args.num}: {what} {args.num / prep_s:.0f} img/s ({prep_s:.1f} s), "
        f"loader {loader:.0f} img/s, train step {step:.2f} img/s ({args.steps} steps, {step_s:.0f} s); "
        f"peak RSS {data_peak:.0f} MiB after preparing and loading, {peak_mib(resource.RUSAGE_SELF):.0f} MiB after training, decoding workers "
        f"{workers_peak:.0f} MiB; {os.cpu_count()} cores, "
        f"load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
  main()
