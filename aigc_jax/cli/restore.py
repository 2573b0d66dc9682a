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

import numpy as np

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


# ------------------------------------------------------------------------ inputs and outputs

def _restore_run(workdir, mode):
  from aigc_jax.train import loop

  def check(config):
    if config.get("task") != "restoration" or config.get("mode") != mode:
      kind = config.get("mode") if config.get("task") == "restoration" else config.get("task")
      raise UserError(f"{workdir!r} holds a {kind!r} run; `aigc {mode}` needs a {mode} run "
                      f"(e.g. configs/{mode}_digits.py), or use --method nlmeans")
  config, _, state = loop.restore_run(workdir, check)
  return config, state


def _setup(args, mode):
  """(inputs, output paths, run config or None, state or None, nlmeans parameters)."""
  from aigc_jax.data import image_folder
  from aigc_jax.train import restoration
  inputs, is_folder = image_folder.read_inputs(args.input)
  config = state = None
  if args.method == "model":
    if not args.workdir:
      raise UserError("--method model needs --workdir (a trained run); or use --method nlmeans")
    config, state = _restore_run(args.workdir, mode)
  elif args.workdir:
    from aigc_jax import configlib
    config = configlib.config_from_workdir(args.workdir)
  h = args.h
  if h is None and mode == "denoise" and (config is None or "nlmeans" not in config):
    h = 0.6 * args.sigma
  params = restoration.nlmeans_params(config, patch_size=args.patch_size,
                                      patch_distance=args.patch_distance, h=h)
  return inputs, image_folder.output_paths(inputs, args.out, is_folder), config, state, params


def _channels(image, config):
  """uint8 [H, W, 3] -> float32 [H, W, C] in [0, 1] with the run's channel count."""
  x = image.astype(np.float32) / 255
  if config is not None and config.data.channels == 1:
    x = x @ np.array([0.299, 0.587, 0.114], np.float32)
    x = x[..., None]
  return x


def _to_uint8(x01):
  x = np.clip(np.round(np.asarray(x01) * 255), 0, 255).astype(np.uint8)
  return np.repeat(x, 3, axis=-1) if x.shape[-1] == 1 else x


# ------------------------------------------------------------------------ commands

def _inpaint(args):
  import jax
  from aigc_jax import images
  from aigc_jax.restoration import masks as masks_lib
  from aigc_jax.restoration import nlmeans
  from aigc_jax.train import restoration
  inputs, outputs, config, state, params = _setup(args, "inpaint")
  given = None
  if args.mask:
    from aigc_jax.data import image_folder
    given = masks_lib.from_image(image_folder.read_image(args.mask))
    for name, image in inputs:  # Every size first: a mismatch writes nothing.
      if given.shape != image.shape[:2]:
        raise UserError(f"--mask is {given.shape[0]}x{given.shape[1]} but image {name} is "
                        f"{image.shape[0]}x{image.shape[1]}; a mask must have the image's size")
  for i, ((name, image), path) in enumerate(zip(inputs, outputs)):
    h, w = image.shape[:2]
    if given is not None:
      mask = given
    elif args.mask_type == "center":
      fraction = config.mask.center_fraction if config is not None and "mask" in config else 0.5
      mask = np.asarray(masks_lib.center(h, w, fraction=fraction))
    else:
      key = jax.random.fold_in(jax.random.key(args.seed), i)
      mask = np.asarray(masks_lib.MASKS[args.mask_type](key, h, w))
    x = _channels(image, config)
    if args.method == "model":
      out = restoration.restore_image(config, state, x, mask)
    else:
      out = np.asarray(nlmeans.inpaint(x, mask, **params))
    images.save_image(_to_uint8(out), path)
  print(f"wrote {len(outputs)} inpainted image(s) ({args.method}) to {args.out}")
  return 0


def _denoise(args):
  import jax
  from aigc_jax import images
  from aigc_jax.restoration import masks as masks_lib
  from aigc_jax.restoration import nlmeans
  from aigc_jax.train import restoration
  if not args.sigma > 0:
    raise UserError(f"--sigma must be positive (the noise std on the [0, 1] scale), got {args.sigma}")
  inputs, outputs, config, state, params = _setup(args, "denoise")
  if config is not None and args.method == "model" and abs(config.noise_sigma - args.sigma) > 1e-6:
    print(f"note: the run was trained on noise sigma {config.noise_sigma}, the inputs have {args.sigma}",
          file=sys.stderr)
  for i, ((_, image), path) in enumerate(zip(inputs, outputs)):
    x = _channels(image, config)
    if args.add_noise:
      key = jax.random.fold_in(jax.random.key(args.seed), i)
      x = np.asarray(masks_lib.add_gaussian_noise(key, x, args.sigma))
    if args.method == "model":
      out = restoration.restore_image(config, state, x, np.zeros(x.shape[:2], bool))
    else:
      out = np.asarray(nlmeans.denoise(x, sigma=args.sigma, **params))
    images.save_image(_to_uint8(out), path)
  print(f"wrote {len(outputs)} denoised image(s) ({args.method}) to {args.out}")
  return 0
