"""`aigc inpaint` and `aigc denoise`: restore image files with a trained run or non-local means.

  aigc inpaint --workdir runs/inpaint_digits --input digit.png --mask-type center --out filled.png
  aigc inpaint --input photos/ --mask holes.png --out filled/ --method nlmeans
  aigc denoise --workdir runs/denoise_digits --input noisy.png --sigma 0.2 --out clean.png
  aigc denoise --input clean.png --add-noise --sigma 0.1 --method nlmeans --out restored.png

Images of any size: for the model they are padded (reflected) to a multiple of its
downsampling factor and cropped back, so each output has its input's size. A folder
input writes one PNG per readable image into the `--out` folder. Masks are white where
pixels are missing; a `--mask` image must have the input image's size.
"""

import sys

from aigc_jax.cli import translate as translate_cli
from aigc_jax.errors import UserError


def register(subparsers):
  p = subparsers.add_parser(
      "inpaint", help="fill the holes of images (a trained inpainting run, or --method nlmeans)",
      description="Fill the masked pixels of an image, or of every image of a folder.")
  _common_arguments(p)
  group = p.add_mutually_exclusive_group(required=True)
  group.add_argument("--mask", default=None, help="mask image, white where pixels are missing")
  group.add_argument("--mask-type", default=None, choices=("center", "boxes", "strokes"),
                     help="draw the mask: a centre box, random boxes or brush strokes (seeded by --seed)")
  p.set_defaults(func=_inpaint)

  p = subparsers.add_parser(
      "denoise", help="remove Gaussian noise from images (a trained denoising run, or --method nlmeans)",
      description="Denoise an image, or every image of a folder.")
  _common_arguments(p)
  p.add_argument("--sigma", type=float, required=True,
                 help="the noise std on the [0, 1] intensity scale (e.g. 0.1)")
  p.add_argument("--add-noise", action="store_true",
                 help="first add Gaussian noise of std --sigma to the inputs (seeded by --seed), "
                      "to try a method on clean images")
  p.set_defaults(func=_denoise)


def _common_arguments(p):
  p.add_argument("--workdir", default=None, help="a restoration training workdir (needed for --method model)")
  p.add_argument("--input", required=True, help="an image file, or a folder of images")
  p.add_argument("--out", required=True, help="output image file (for a folder input: output folder)")
  p.add_argument("--method", default="model", choices=("model", "nlmeans"),
                 help="model (default): the run's network; nlmeans: non-local means, no training needed")
  p.add_argument("--seed", type=int, default=0)
  p.add_argument("--h", type=float, default=None, help="non-local means filter strength (default: the run's "
                                                       "config, else 0.1 / 0.6 x sigma)")
  p.add_argument("--patch-size", type=int, default=None, help="non-local means patch side (default 5)")
  p.add_argument("--patch-distance", type=int, default=None, help="non-local means search radius (default 6)")
  translate_cli.add_crf_arguments(p)
  translate_cli.add_tile_arguments(p)


# ------------------------------------------------------------------------ commands

def _setup(args, mode):
  """(inputs, output paths, run or None, non-local means parameters)."""
  from aigc_jax import configlib, inference
  from aigc_jax.data import image_folder
  from aigc_jax.inference import restoration
  from aigc_jax.train.task import parse_config
  inputs, is_folder = image_folder.read_inputs(args.input)
  run = opts = None
  if args.method == "model":
    if not args.workdir:
      raise UserError("--method model needs --workdir (a trained run); or use --method nlmeans")
    run = inference.load(args.workdir, check=restoration.check_run(mode, args.workdir))
    opts = run.opts
  elif args.workdir:
    config = configlib.config_from_workdir(args.workdir)
    if config.get("task") == "restoration":
      opts = parse_config(config)[1]
  sigma = getattr(args, "sigma", None) if mode == "denoise" else None
  params = restoration.nlmeans_options(opts, sigma=sigma, patch_size=args.patch_size,
                                       patch_distance=args.patch_distance, h=args.h)
  return inputs, image_folder.output_paths(inputs, args.out, is_folder), run, params


def _refined(output, guide, args):
  """`--crf`: the output refined by a CRF guided by the input image."""
  options = translate_cli.crf_options(args)
  if options is None:
    return output
  from aigc_jax import crf
  return crf.refine_image(output, guide, options)


def _inpaint(args):
  import jax
  from aigc_jax import images
  from aigc_jax.data import image_folder
  from aigc_jax.inference import restoration
  from aigc_jax.restoration import masks as masks_lib
  inputs, outputs, run, params = _setup(args, "inpaint")
  given = None
  if args.mask:
    given = masks_lib.from_image(image_folder.read_image(args.mask))
    for name, image in inputs:  # Every size first: a mismatch writes nothing.
      if given.shape != image.shape[:2]:
        raise UserError(f"--mask is {given.shape[0]}x{given.shape[1]} but image {name} is "
                        f"{image.shape[0]}x{image.shape[1]}; a mask must have the image's size")
  for i, ((_, image), path) in enumerate(zip(inputs, outputs, strict=True)):
    mask = given if given is not None else restoration.draw_mask(
        args.mask_type, jax.random.fold_in(jax.random.key(args.seed), i), *image.shape[:2],
        opts=None if run is None else run.opts)
    out = restoration.inpaint(image, mask, run=run, method=args.method, nlmeans_params=params, tile=args.tile,
                              overlap=args.overlap)
    images.save_image(_refined(out, image, args), path)
  print(f"wrote {len(outputs)} inpainted image(s) ({args.method}) to {args.out}")
  return 0


def _denoise(args):
  import jax
  from aigc_jax import images
  from aigc_jax.inference import restoration
  if not args.sigma > 0:
    raise UserError(f"--sigma must be positive (the noise std on the [0, 1] scale), got {args.sigma}")
  inputs, outputs, run, params = _setup(args, "denoise")
  if run is not None and abs(run.opts.noise_sigma - args.sigma) > 1e-6:
    print(f"note: the run was trained on noise sigma {run.opts.noise_sigma}, the inputs have {args.sigma}",
          file=sys.stderr)
  for i, ((_, image), path) in enumerate(zip(inputs, outputs, strict=True)):
    key = jax.random.fold_in(jax.random.key(args.seed), i) if args.add_noise else None
    out = restoration.denoise(image, sigma=args.sigma, run=run, method=args.method, nlmeans_params=params,
                              noise_key=key, tile=args.tile, overlap=args.overlap)
    images.save_image(_refined(out, image, args), path)
  print(f"wrote {len(outputs)} denoised image(s) ({args.method}) to {args.out}")
  return 0
