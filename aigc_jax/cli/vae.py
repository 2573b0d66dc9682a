"""`aigc reconstruct` and `aigc interpolate`: what only a VAE run can do.

  aigc reconstruct --workdir runs/vae_digits --input digit.png --out pair.png
  aigc interpolate --workdir runs/vae_digits --steps 10 --rows 8 --out walk.png

`reconstruct` resizes each input image (a file, or every image in a folder) to the
model's resolution and channels and writes one grid in which each input is followed by
its reconstruction (decoded from the posterior mean). `interpolate` writes `--rows` rows
of `--steps` images, each a spherical walk between two prior samples.
"""

from aigc_jax.errors import UserError

_PAIRS_PER_ROW = 8
_NEEDS = "this command needs a VAE run (e.g. trained with configs/vae_digits.py)"


def register(subparsers):
  p = subparsers.add_parser(
      "reconstruct", help="VAE: write input | reconstruction pairs for images",
      description="Encode images with a trained VAE and decode the posterior mean. The "
                  "inputs are resized to the model's resolution; the output grid shows each "
                  "input followed by its reconstruction.")
  p.add_argument("--workdir", required=True, help="a VAE training workdir")
  p.add_argument("--input", required=True, help="an image file, or a folder of images")
  p.add_argument("--out", required=True, help="output PNG file")
  p.add_argument("--labels", default=None,
                 help="conditional VAEs: comma-separated label names, one for all inputs or one each")
  p.set_defaults(func=_reconstruct)

  p = subparsers.add_parser(
      "interpolate", help="VAE: a grid of latent interpolations",
      description="Each row walks (spherical interpolation) between two prior samples.")
  p.add_argument("--workdir", required=True, help="a VAE training workdir")
  p.add_argument("--steps", type=int, default=10, help="images per row (>= 2)")
  p.add_argument("--rows", type=int, default=8, help="number of interpolations")
  p.add_argument("--out", required=True, help="output PNG file")
  p.add_argument("--seed", type=int, default=0)
  p.add_argument("--labels", default=None, help="conditional VAEs: comma-separated label names, cycled over rows")
  p.set_defaults(func=_interpolate)


def _labels(text):
  return [s.strip() for s in text.split(",") if s.strip()] if text else None


def _reconstruct(args):
  import numpy as np
  from aigc_jax import images as images_lib, inference
  from aigc_jax.data import image_folder
  from aigc_jax.inference import vae
  inputs = [image for _, image in image_folder.read_inputs(args.input)[0]]
  run = inference.load(args.workdir, task="vae", needs=_NEEDS)
  resized, recons = vae.reconstruct_images(run, inputs, _labels(args.labels))
  pairs = np.stack([resized, recons], axis=1).reshape(-1, *resized.shape[1:])
  images_lib.save_grid(pairs, args.out, ncols=2 * min(len(resized), _PAIRS_PER_ROW))
  print(f"wrote {len(resized)} input | reconstruction pairs to {args.out}")
  return 0


def _interpolate(args):
  import jax
  from aigc_jax import images as images_lib, inference
  from aigc_jax.inference import vae
  if args.steps < 2 or args.rows < 1:
    raise UserError("--steps must be at least 2 and --rows at least 1")
  run = inference.load(args.workdir, task="vae", needs=_NEEDS)
  grid = vae.interpolate(run, jax.random.key(args.seed), args.rows, args.steps, _labels(args.labels))
  images_lib.save_grid(grid, args.out, ncols=args.steps)
  print(f"wrote {args.rows} interpolations of {args.steps} steps to {args.out}")
  return 0
