"""`aigc bench`: print the benchmark table; `--json FILE` writes the figures."""

import json
import os

# Size options: (flag, Options field, type, help). Each defaults to its --sizes preset.
_SIZES = (
    ("--rounds", "rounds", int, "interleaved timing rounds"),
    ("--per-round", "per_round", int, "DCGAN and VAE steps per round"),
    ("--cyclegan-per-round", "cyclegan_per_round", int, "CycleGAN steps per round"),
    ("--matmul-size", "matmul_size", int, "side of the matrices of the peak FLOP/s figures"),
    ("--batch", "batch", int, "DCGAN batch"),
    ("--resolution", "resolution", int, "DCGAN resolution"),
    ("--inception-images", "inception_images", int, "images through each Inception"),
    ("--inception-size", "inception_size", int, "side of the input images (both resize to 299)"),
    ("--inception-batch", "inception_batch", int, "Inception batch, both implementations"),
    ("--cyclegan-size", "cyclegan_size", int, "CycleGAN crop size"),
    ("--cyclegan-blocks", "cyclegan_blocks", int, "CycleGAN residual blocks"),
    ("--cyclegan-features", "cyclegan_features", int, "ngf = ndf"),
    ("--vae-batch", "vae_batch", int, "VAE batch"),
    ("--diffusion-batch", "diffusion_batch", int, "diffusion train-step batch"),
    ("--diffusion-resolution", "diffusion_resolution", int, "diffusion image side (a power of 2, >= 8)"),
    ("--diffusion-channels", "diffusion_channels", int, "diffusion image channels"),
    ("--diffusion-base-channels", "diffusion_base_channels", int, "the U-Net's width at full resolution"),
    ("--diffusion-samples", "diffusion_samples", int, "images per diffusion sampling call"),
    ("--diffusion-steps", "diffusion_steps", int, "Heun steps of the diffusion sampler"),
)


def register(subparsers):
  from aigc_jax.bench.options import DTYPES, ROWS, SIZES, TORCH_COMPILE
  p = subparsers.add_parser("bench", help="training-step, sampling and Inception speed vs PyTorch and the machine's matmul peak")
  p.add_argument("--only", default=",".join(ROWS), help=f"comma-separated rows to measure, of {','.join(ROWS)}")
  p.add_argument("--dtypes", "--dtype", default=None,
                 help=f"comma-separated compute dtypes of the training steps, of {','.join(DTYPES)} "
                      "(bfloat16: mixed precision; default: the preset's)")
  p.add_argument("--sizes", default="cpu", choices=tuple(SIZES),
                 help="size preset: cpu (default), device (an accelerator run), tiny (seconds, to test the code)")
  p.add_argument("--tiny", dest="sizes", action="store_const", const="tiny", help="same as --sizes tiny")
  p.add_argument("--no-torch", action="store_true", help="skip the PyTorch references")
  p.add_argument("--torch-compile", default=None, choices=TORCH_COMPILE,
                 help="torch.compile references: auto (default: on a GPU only), on, off")
  p.add_argument("--torch-device", default=None,
                 help="device of the PyTorch references (default: cuda if PyTorch sees one, else cpu)")
  p.add_argument("--torch-threads", type=int, default=None,
                 help="PyTorch's CPU threads (default: its own choice, one per core)")
  for flag, _, kind, text in _SIZES:
    p.add_argument(flag, type=kind, default=None, help=f"{text} (default: the preset's)")
  p.add_argument("--json", default=None, help="also write the figures to this JSON file (after each row too)")
  p.set_defaults(func=_bench)


def _options(args):
  from aigc_jax.bench.options import preset
  given = {field: getattr(args, field) for _, field, _, _ in _SIZES if getattr(args, field) is not None}
  if args.dtypes is not None:
    given["dtypes"] = tuple(d.strip() for d in args.dtypes.split(",") if d.strip())
  for field in ("torch_compile", "torch_device", "torch_threads"):
    if getattr(args, field) is not None:
      given[field] = getattr(args, field)
  return preset(args.sizes, rows=tuple(r.strip() for r in args.only.split(",") if r.strip()),
                torch_reference=not args.no_torch, **given)


def _bench(args):
  # JAX takes 75% of a GPU's memory at start by default; the PyTorch references share the
  # device, and the device peaks mean more when JAX allocates what it uses. Set before
  # JAX starts its backend; a user's own setting wins.
  os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
  from aigc_jax.bench import harness
  opts = _options(args)

  def save(figures):
    if args.json:
      with open(args.json, "w") as f:
        json.dump(figures, f, indent=2, sort_keys=True)
  figures = harness.run(opts, on_row=save)
  save(figures)
  print(harness.format_table(figures))
  return 0
