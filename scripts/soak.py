r"""Kill -9 soak of `aigc train` (not part of the test suite): `aigc_jax.train.soak`.

  python scripts/soak.py --trials 30 --seed 0 --root /tmp/aigc_soak

Runs the smoke DCGAN (40 steps, a checkpoint every 5) once uninterrupted, then per
trial kills a fresh run with SIGKILL at a random moment (a share of them during a
checkpoint save), resumes it to the end and compares the final checkpoint and
metrics.jsonl with the reference, bit for bit. Prints a line per trial and a summary;
the full report is ROOT/report.json. Exits 1 if any trial failed. See docs/reliability.md.
"""

import argparse
import json
import sys

from aigc_jax.train import soak


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--trials", type=int, default=30)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--root", default="/tmp/aigc_soak", help="working folder (emptied first)")
  parser.add_argument("--save-share", type=float, default=0.3, help="share of trials killed during a save")
  args = parser.parse_args()
  report = soak.run_soak(args.root, trials=args.trials, seed=args.seed, save_share=args.save_share)
  summary = {k: v for k, v in report.items() if k != "results"}
  print(json.dumps(summary))
  return 1 if report["failures"] else 0


if __name__ == "__main__":
  sys.exit(main())
