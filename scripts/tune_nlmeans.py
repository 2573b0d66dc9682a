"""Grid-searches the non-local means baseline of a restoration config on training images.

  python scripts/tune_nlmeans.py configs/inpaint_digits.py
  python scripts/tune_nlmeans.py configs/denoise_digits.py --num-images 128

Prints one line per parameter combination, best PSNR first (over the holes for
inpainting, with centre masks). The shipped configs' `nlmeans` values come from this.
"""

import argparse

from aigc_jax import configlib
from aigc_jax.evaluation import restoration as restoration_evaluation
from aigc_jax.train import restoration


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("config", help="a restoration config, e.g. configs/inpaint_digits.py")
  parser.add_argument("--num-images", type=int, default=128)
  parser.add_argument("--patch-sizes", default="3,5,7")
  parser.add_argument("--patch-distances", default="5,7,9")
  parser.add_argument("--hs", default="0.03,0.06,0.1,0.15,0.2,0.3")
  args = parser.parse_args()
  grid = {"patch_size": [int(v) for v in args.patch_sizes.split(",")],
          "patch_distance": [int(v) for v in args.patch_distances.split(",")],
          "h": [float(v) for v in args.hs.split(",")]}
  opts = restoration.parse(configlib.load_config(args.config))
  for r in restoration_evaluation.nlmeans_grid_search(opts, grid, args.num_images):
    print(f"patch_size {r['patch_size']} patch_distance {r['patch_distance']} h {r['h']:<5} "
          f"psnr {r['psnr']:.2f} ssim {r['ssim']:.3f}", flush=True)


if __name__ == "__main__":
  main()
