"""The `aigc` command line: a thin dispatcher over the library.

Each `aigc_jax.cli.<group>` module defines `register(subparsers)`, which adds its
subcommands and sets `func` on each; the function receives the parsed arguments and does
the work by calling library code. Expected user errors (`UserError`, and a few OS errors
about paths) become one line on stderr and exit status 2; anything else keeps its
traceback, because it is a bug.
"""

import argparse
import importlib
import sys

from aigc_jax.errors import Interrupted, UserError

# The command groups, in the order `aigc --help` lists them.
_GROUPS = ("train", "metrics", "bench", "vae", "translate", "restore", "fid", "data")


def build_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
      prog="aigc", description="Image generative models in JAX: train, sample, evaluate.")
  subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
  for group in _GROUPS:
    importlib.import_module(f"aigc_jax.cli.{group}").register(subparsers)
  return parser


def main(argv=None) -> int:
  parser = build_parser()
  args, extra = parser.parse_known_args(argv)
  # Only `train` takes free-form `--config.KEY=VALUE` overrides; anything else unknown is
  # a mistake that argparse reports in its usual one-line way.
  if extra and not getattr(args, "accepts_overrides", False):
    parser.error(f"unrecognized arguments: {' '.join(extra)}")
  args.overrides = extra
  from aigc_jax.cache import enable_compilation_cache
  enable_compilation_cache()
  try:
    return args.func(args) or 0
  except UserError as e:
    print(f"aigc {args.command}: error: {e}", file=sys.stderr)
    return 2
  except Interrupted as e:
    print(f"aigc {args.command}: {e}", file=sys.stderr)
    return 128 + e.signum
  except KeyboardInterrupt:
    print(f"aigc {args.command}: interrupted", file=sys.stderr)
    return 130


if __name__ == "__main__":
  sys.exit(main())
