"""`aigc translate`: run a trained CycleGAN's generator on image files.

  aigc translate --workdir runs/cyclegan_photos --input photo.jpg --out out.png
  aigc translate --workdir runs/horse2zebra --input horses/ --out zebras/ --direction AtoB

The generator is fully convolutional: each output has its input's size. A folder input
writes one PNG per readable image into the `--out` folder (same file name, extension
.png); unreadable files are skipped with a warning.
"""


def register(subparsers):
  p = subparsers.add_parser(
      "translate", help="CycleGAN: translate images from one domain to the other",
      description="Translate an image, or every image of a folder, with a trained CycleGAN. "
                  "Outputs keep the input's size.")
  p.add_argument("--workdir", required=True, help="a CycleGAN training workdir")
  p.add_argument("--input", required=True, help="an image file, or a folder of images")
  p.add_argument("--out", required=True, help="output image file (for a folder input: output folder)")
  p.add_argument("--direction", default="AtoB", choices=("AtoB", "BtoA"),
                 help="AtoB (default) uses the generator from domain A to B; BtoA the other")
  p.set_defaults(func=_translate)


def _translate(args):
  from aigc_jax import images, inference
  from aigc_jax.data import image_folder
  from aigc_jax.inference import cyclegan
  # Read the inputs first: a bad path should not wait for the checkpoint to load.
  inputs, is_folder = image_folder.read_inputs(args.input)
  outputs = image_folder.output_paths(inputs, args.out, is_folder)
  run = inference.load(args.workdir, task="cyclegan",
                       needs="`aigc translate` needs a CycleGAN run (e.g. trained with configs/cyclegan_photos.py)")
  for (_, image), path in zip(inputs, outputs, strict=True):
    images.save_image(cyclegan.translate(run, image, args.direction), path)
  print(f"wrote {len(outputs)} translated image(s) ({args.direction}) to {args.out}")
  return 0
