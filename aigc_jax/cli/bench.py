"""`aigc bench`: print the benchmark table; `--json FILE` writes the figures."""

import json


def register(subparsers):
  from aigc_jax.bench.options import ROWS, Options
  d = Options()
  p = subparsers.add_parser("bench", help="training-step and Inception speed vs PyTorch and the machine's matmul limit")
  p.add_argument("--only", default=",".join(ROWS), help=f"comma-separated rows to measure, of {','.join(ROWS)}")
  p.add_argument("--dtype", default=d.compute_dtype, choices=("float32", "bfloat16"),
                 help="compute dtype of the JAX training steps (bfloat16: mixed precision)")
  p.add_argument("--rounds", type=int, default=d.rounds, help="interleaved timing rounds")
  p.add_argument("--per-round", type=int, default=d.per_round, help="steps per round (CycleGAN: always 1)")
  p.add_argument("--no-torch", action="store_true", help="skip the PyTorch references")
  p.add_argument("--torch-device", default=d.torch_device,
                 help="device of the PyTorch references (default: cuda if PyTorch sees one, else cpu)")
  p.add_argument("--torch-threads", type=int, default=d.torch_threads,
                 help="PyTorch's CPU threads (default: its own choice, one per core)")
  p.add_argument("--matmul-size", type=int, default=d.matmul_size)
  p.add_argument("--batch", type=int, default=d.batch, help="DCGAN batch")
  p.add_argument("--resolution", type=int, default=d.resolution, help="DCGAN resolution")
  p.add_argument("--inception-images", type=int, default=d.inception_images)
  p.add_argument("--inception-size", type=int, default=d.inception_size, help="side of the input images")
  p.add_argument("--inception-batch", type=int, default=d.inception_batch)
  p.add_argument("--cyclegan-size", type=int, default=d.cyclegan_size)
  p.add_argument("--cyclegan-blocks", type=int, default=d.cyclegan_blocks)
  p.add_argument("--cyclegan-features", type=int, default=d.cyclegan_features, help="ngf = ndf")
  p.add_argument("--vae-batch", type=int, default=d.vae_batch)
  p.add_argument("--json", default=None, help="also write the figures to this JSON file")
  p.set_defaults(func=_bench)


def _bench(args):
  from aigc_jax.bench import harness
  opts = harness.Options(
      rows=tuple(r.strip() for r in args.only.split(",") if r.strip()), rounds=args.rounds,
      per_round=args.per_round, compute_dtype=args.dtype, torch_reference=not args.no_torch,
      torch_device=args.torch_device, torch_threads=args.torch_threads, matmul_size=args.matmul_size, batch=args.batch,
      resolution=args.resolution, inception_images=args.inception_images,
      inception_size=args.inception_size, inception_batch=args.inception_batch,
      cyclegan_size=args.cyclegan_size, cyclegan_blocks=args.cyclegan_blocks,
      cyclegan_features=args.cyclegan_features, vae_batch=args.vae_batch)
  figures = harness.run(opts)
  print(harness.format_table(figures))
  if args.json:
    with open(args.json, "w") as f:
      json.dump(figures, f, indent=2, sort_keys=True)
  return 0
