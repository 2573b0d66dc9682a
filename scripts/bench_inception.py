"""Inception pool3 images/s: this JAX port against pytorch-fid, same images, interleaved.

  python scripts/bench_inception.py --num-images 64 --size 64 --batch-size 32

Random weights (timing does not depend on them); needs torch, torchvision, pytorch-fid.
"""

import argparse

import numpy as np

from aigc_jax.metrics import bench, inception


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--num-images", type=int, default=64)
  parser.add_argument("--size", type=int, default=64, help="input height = width")
  parser.add_argument("--batch-size", type=int, default=32)
  parser.add_argument("--rounds", type=int, default=3)
  parser.add_argument("--torch-device", default="cpu")
  args = parser.parse_args()

  import jax
  import torch
  images = np.random.default_rng(0).integers(
      0, 256, (args.num_images, args.size, args.size, 3), dtype=np.uint8)
  fns = {
      "aigc_jax (JAX)": bench.jax_pool3_fn(inception.init_variables(0), args.batch_size),
      "pytorch-fid": bench.pytorch_fid_pool3_fn(args.batch_size, args.torch_device),
  }
  rates = bench.compare_throughput(fns, images, args.rounds)
  print(f"{args.num_images} images {args.size}x{args.size} -> 299, batch {args.batch_size}; "
        f"jax on {jax.devices()[0].device_kind}, torch on {args.torch_device} "
        f"({torch.get_num_threads()} threads)")
  print(f"{'implementation':<16} {'median img/s':>12}   rounds")
  for name, r in rates.items():
    print(f"{name:<16} {np.median(r):>12.1f}   {' '.join(f'{x:.1f}' for x in r)}")


if __name__ == "__main__":
  main()
