"""`aigc translate`: run a trained translator (CycleGAN or pix2pix) on image files.

  aigc translate --workdir runs/cyclegan_photos --input photo.jpg --out out.png
  aigc translate --workdir runs/horse2zebra --input horses/ --out zebras/ --direction AtoB
  aigc translate --workdir runs/pix2pix_digits --input edges/ --out digits/ --crf

The generators are fully convolutional: each output has its input's size. A folder
input writes one PNG per readable image into the `--out` folder (same file name,
extension .png); unreadable files are skipped with a warning. `--crf` refines each
output with a Gaussian CRF guided by its input (`aigc_jax.crf`, fixed parameters).
"""

from aigc_jax.errors import UserError

_NEEDS = "`aigc translate` needs a CycleGAN or pix2pix run (e.g. configs/cyclegan_photos.py, configs/pix2pix_digits.py)"


def register(subparsers):
  p = subparsers.add_parser(
      "translate", help="CycleGAN or pix2pix: translate images",
      description="Translate an image, or every image of a folder, with a trained CycleGAN or pix2pix "
                  "run. Outputs keep the input's size.")
  p.add_argument("--workdir", required=True, help="a CycleGAN or pix2pix training workdir")
  p.add_argument("--input", required=True, help="an image file, or a folder of images")
  p.add_argument("--out", required=True, help="output image file (for a folder input: output folder)")
  p.add_argument("--direction", default=None, choices=("AtoB", "BtoA"),
                 help="CycleGAN: AtoB (default) uses the generator from domain A to B; BtoA the other")
  add_crf_arguments(p)
  add_tile_arguments(p)
  p.set_defaults(func=_translate)


def add_tile_arguments(p):
  """`--tile` and `--overlap`: large images run in overlapping tiles (docs/restoration.md)."""
  p.add_argument("--tile", type=int, default=None, help="tile side for large images (default: from the network)")
  p.add_argument("--overlap", type=int, default=None, help="tile overlap (default: from its receptive field)")


def add_crf_arguments(p):
  """`--crf` and its fixed parameters, for the commands that can refine their outputs."""
  from aigc_jax import crf
  defaults = crf.CRFOptions()
  p.add_argument("--crf", action="store_true", help="refine each output with a Gaussian CRF guided by its input")
  p.add_argument("--crf-lam", type=float, default=defaults.lam, help=f"CRF strength lambda ({defaults.lam})")
  p.add_argument("--crf-theta-a", type=float, default=defaults.theta_a,
                 help=f"CRF spatial scale in pixels ({defaults.theta_a})")
  p.add_argument("--crf-theta-b", type=float, default=defaults.theta_b,
                 help=f"CRF guide-colour scale on the [-1, 1] scale ({defaults.theta_b})")


def crf_options(args):
  """The fixed CRF options of `--crf` (None without it); bad values are UserErrors."""
  if not args.crf:
    return None
  from aigc_jax import crf
  return crf.CRFOptions(lam=args.crf_lam, theta_a=args.crf_theta_a, theta_b=args.crf_theta_b, learnable=False)


def _translate(args):
  from aigc_jax import crf, images, inference
  from aigc_jax.data import image_folder
  crf_opts = crf_options(args)
  # Read the inputs first: a bad path should not wait for the checkpoint to load.
  inputs, is_folder = image_folder.read_inputs(args.input)
  outputs = image_folder.output_paths(inputs, args.out, is_folder)

  def check(config):
    if config.get("task") not in ("cyclegan", "pix2pix"):
      raise UserError(f"{args.workdir!r} is a {config.get('task')!r} run; {_NEEDS}")
  run = inference.load(args.workdir, check=check)
  if run.config.task == "pix2pix":
    if args.tile or args.overlap:
      raise UserError("--tile and --overlap are for CycleGAN runs; a pix2pix run translates a whole image")
    if args.direction:
      raise UserError("--direction is for CycleGAN runs; a pix2pix run translates one way")
    fn = lambda image: inference.pix2pix.translate(run, image, crf=crf_opts)
  else:
    direction = args.direction or "AtoB"
    fn = lambda image: _refined(inference.cyclegan.translate(run, image, direction, tile=args.tile,
                                                             overlap=args.overlap), image, crf_opts, crf)
  for (_, image), path in zip(inputs, outputs, strict=True):
    images.save_image(fn(image), path)
  print(f"wrote {len(outputs)} translated image(s) to {args.out}")
  return 0


def _refined(output, guide, options, crf):
  return output if options is None else crf.refine_image(output, guide, options)
