"""Inception pool3 images/s: this JAX port against pytorch-fid, same images, interleaved.

  python scripts/bench_inception.py --num-images 64 --size 64 --batch-size 32

The same as `aigc bench --only inception` (`aigc_jax.bench.harness.inception_row`).
Random weights (timing does not depend on them); needs torch, torchvision, pytorch-fid.
"""

import argparse

from aigc_jax.bench import harness


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--num-images", type=int, default=64)
  parser.add_argument("--size", type=int, default=64, help="input height = width")
  parser.add_argument("--batch-size", type=int, default=32)
  parser.add_argument("--rounds", type=int, default=3)
  parser.add_argument("--torch-device", default="cpu")
  args = parser.parse_args()
  opts = harness.Options(rows=("inception",), rounds=args.rounds, torch_device=args.torch_device,
                         inception_images=args.num_images, inception_size=args.size,
                         inception_batch=args.batch_size)
  print(harness.format_table(harness.inception_row(opts)))


if __name__ == "__main__":
  main()
