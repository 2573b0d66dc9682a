r"""Peak memory and time of restoring (or translating) one large image in tiles.

  python scripts/bench_tiling.py                                   # denoise 4000x3000, default tiles
  python scripts/bench_tiling.py --height 1500 --width 2000 --tile 100000   # the whole image at once
  python scripts/bench_tiling.py --config cyclegan_photos --photo --height 1281 --width 1920 --compare

The network is the config's, freshly initialised (a trained one costs the same), or a
trained run's (`--workdir`); the image is a generated pattern with noise, or (`--photo`)
scikit-learn's pagoda photo resized. Prints one line: the size, the tile and overlap,
the number of tiles, the wall time (compilation included) and the peak resident memory
of this process; `--compare` also runs the whole image in one piece and prints how far
the tiled output is from it (uint8 levels). Run each setting in its own process: the
peak is the process's. Figures: docs/restoration.md, "Large images".
"""

import argparse
import resource
import time

import jax
import numpy as np
from PIL import Image

from aigc_jax import configlib, inference
from aigc_jax.inference import cyclegan as cyclegan_inference
from aigc_jax.inference import restoration as restoration_inference
from aigc_jax.inference import tiling
from aigc_jax.train import task as task_lib


def _image(height: int, width: int, photo: bool) -> np.ndarray:
  if photo:
    from sklearn.datasets import load_sample_image
    return np.asarray(Image.fromarray(load_sample_image("china.jpg")).resize((width, height), Image.BICUBIC))
  image, rng = np.empty((height, width, 3), np.uint8), np.random.default_rng(0)
  for top in range(0, height, 256):  # In bands, so that float temporaries do not set the peak.
    y, x = np.mgrid[top:min(top + 256, height), :width].astype(np.float32) / max(height, width)
    pattern = np.stack([np.sin(9 * x + 4 * y), np.cos(7 * y - 3 * x), np.sin(5 * x * y + 2)], -1)
    noise = rng.normal(0, 0.2, pattern.shape).astype(np.float32)
    image[top:top + 256] = np.clip((pattern * 0.4 + 0.5 + noise) * 255, 0, 255)
  return image


def _apply(run, image, tile, overlap):
  if run.config.task == "cyclegan":
    return cyclegan_inference.translate(run, image, tile=tile, overlap=overlap)
  return restoration_inference.denoise(image, sigma=0.2, run=run, tile=tile, overlap=overlap)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--config", default="denoise_digits", help="a restoration or cyclegan config")
  parser.add_argument("--height", type=int, default=3000)
  parser.add_argument("--width", type=int, default=4000)
  parser.add_argument("--tile", type=int, default=None, help="default: the run's (tile_sizes)")
  parser.add_argument("--overlap", type=int, default=None)
  parser.add_argument("--workdir", default=None, help="a trained run instead of --config")
  parser.add_argument("--photo", action="store_true", help="a resized photo instead of a pattern")
  parser.add_argument("--compare", action="store_true", help="also the whole image in one piece")
  args = parser.parse_args()

  if args.workdir:
    run = inference.load(args.workdir)
  else:
    config = configlib.load_config(args.config)
    family, opts = task_lib.parse_config(config)
    run = inference.Run("unused", config, opts, family, family.init_state(opts, jax.random.key(0)))
  cyclegan = run.config.task == "cyclegan"
  sizes = cyclegan_inference.tile_sizes if cyclegan else restoration_inference.tile_sizes
  tile, overlap = sizes(run.opts, args.tile, args.overlap)
  multiple = 4 if cyclegan else 2**run.opts.model.depth
  image = _image(args.height, args.width, args.photo)

  start = time.perf_counter()
  out = _apply(run, image, tile, overlap)
  seconds = time.perf_counter() - start
  padded = [tiling.round_up(n, multiple) for n in image.shape[:2]]
  layout = tiling.plan(*padded, tile=tile, overlap=overlap, multiple=multiple)
  peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  line = (f"{args.workdir or args.config} {args.width}x{args.height}: tile {tile}, overlap {overlap}, "
          f"{layout.num_tiles} tiles of {layout.tile_h}x{layout.tile_w}; {seconds:.1f} s, peak RSS {peak_mib:.0f} MiB")
  if args.compare:
    diff = np.abs(out.astype(int) - _apply(run, image, max(padded), overlap))
    line += f"; vs whole image: max {diff.max()}, mean {diff.mean():.2f} uint8 levels"
  print(line)


if __name__ == "__main__":
  main()
