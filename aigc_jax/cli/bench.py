"""`aigc bench`: print the benchmark table; `--json FILE` writes the figures."""

import json


def register(subparsers):
  p = subparsers.add_parser("bench", help="DCGAN step speed vs PyTorch and the machine's matmul limit")
  p.add_argument("--batch", type=int, default=128)
  p.add_argument("--resolution", type=int, default=32)
  p.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds")
  p.add_argument("--no-torch", action="store_true", help="skip the PyTorch reference")
  p.add_argument("--json", default=None, help="also write the figures to this JSON file")
  p.set_defaults(func=_bench)


def _bench(args):
  from aigc_jax.bench import harness
  figures = harness.run(batch=args.batch, resolution=args.resolution, rounds=args.rounds,
                        torch_reference=not args.no_torch)
  print(harness.format_table(figures))
  if args.json:
    with open(args.json, "w") as f:
      json.dump(figures, f, indent=2, sort_keys=True)
  return 0
