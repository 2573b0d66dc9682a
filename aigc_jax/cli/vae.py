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


def _restore_vae(workdir):
  from aigc_jax.train import loop
  config, _, state = loop.restore_run(
      workdir, task="vae", needs="this command needs a VAE run (e.g. trained with configs/vae_digits.py)")
  return config, state


def _labels(text):
  return [s.strip() for s in text.split(",") if s.strip()] if text else None


def _read_images(path, resolution: int, channels: int):
  """An image file or folder -> uint8 [N, resolution, resolution, channels], resized as
  the training pipeline does."""
  import numpy as np
  from PIL import Image
  from aigc_jax.data import image_folder, pipeline
  out = []
  for _, rgb in image_folder.read_inputs(path)[0]:
    array = np.asarray(Image.fromarray(rgb).convert("L"))[..., None] if channels == 1 else rgb
    out.append(pipeline.resize_uint8(array, resolution))
  return np.stack(out)


def _reconstruct(args):
  import numpy as np
  from aigc_jax import images as images_lib
  from aigc_jax.train import vae
  config, state = _restore_vae(args.workdir)
  inputs = _read_images(args.input, config.data.resolution, config.data.channels)
  names = _labels(args.labels)
  if names and len(names) not in (1, len(inputs)):
    raise UserError(f"--labels gives {len(names)} labels for {len(inputs)} images; give one or one each")
  ids = vae.resolve_labels(config, names, len(inputs)) if names else None
  recons = vae.reconstruct(config, state, inputs, ids)
  pairs = np.stack([inputs, recons], axis=1).reshape(-1, *inputs.shape[1:])
  images_lib.save_grid(pairs, args.out, ncols=2 * min(len(inputs), _PAIRS_PER_ROW))
  print(f"wrote {len(inputs)} input | reconstruction pairs to {args.out}")
  return 0


def _interpolate(args):
  import jax
  from aigc_jax import images as images_lib
  from aigc_jax.train import vae
  if args.steps < 2 or args.rows < 1:
    raise UserError("--steps must be at least 2 and --rows at least 1")
  config, state = _restore_vae(args.workdir)
  grid = vae.interpolate(config, state, jax.random.key(args.seed), args.rows, args.steps, _labels(args.labels))
  images_lib.save_grid(grid, args.out, ncols=args.steps)
  print(f"wrote {args.rows} interpolations of {args.steps} steps to {args.out}")
  return 0
