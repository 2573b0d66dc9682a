"""`aigc eval` of a diffusion run's latest checkpoint with other sampler settings than the
run's config.json holds: churn (EDM's stochastic sampler) on or off, its range and noise
scale. Prints one JSON object: the metrics of `aigc eval`, the settings and the seconds.

  python scripts/diffusion_eval_sampler.py WORKDIR --s-churn 0                 # the ODE sampler
  python scripts/diffusion_eval_sampler.py WORKDIR --s-churn 40 --s-tmin 0.05 --s-tmax 50 \\
      --s-noise 1.003 --steps 18 --guidance 2

docs/diffusion.md compares the two samplers on the same checkpoints with it (runs trained
before the churned sampler became diffusion_digits' default hold s_churn 0).
"""

import argparse
import dataclasses
import json
import sys
import time

from aigc_jax.errors import UserError
from aigc_jax.evaluation import diffusion as diffusion_eval
from aigc_jax.inference import run as run_lib

CHURN_KEYS = ("s_churn", "s_tmin", "s_tmax", "s_noise")  # Fields of `config.sampler` this script overrides.


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("workdir")
  parser.add_argument("--steps", type=int, default=None, help="sampler steps (default the config's)")
  parser.add_argument("--guidance", type=float, default=None, help="class runs: guidance g (default the config's)")
  parser.add_argument("--num-samples", type=int, default=None)
  parser.add_argument("--seed", type=int, default=0)
  for name in CHURN_KEYS:
    parser.add_argument("--" + name.replace("_", "-"), type=float, default=None, help="default the config's")
  args = parser.parse_args()
  if args.num_samples is not None and args.num_samples < 1:
    raise UserError(f"--num-samples must be at least 1, got {args.num_samples}")

  run = run_lib.load(args.workdir, task="diffusion", needs="this script evaluates diffusion runs")
  changes = {k: getattr(args, k) for k in CHURN_KEYS if getattr(args, k) is not None}
  sampler = dataclasses.replace(run.opts.sampler, **changes)
  sampler.check()
  run = run._replace(opts=dataclasses.replace(run.opts, sampler=sampler))
  start = time.perf_counter()
  result = diffusion_eval.evaluate(run, num_samples=args.num_samples, seed=args.seed, steps=args.steps,
                                   guidance=args.guidance)
  # s_tmax may be inf (churn everywhere), which strict JSON cannot hold: written as "inf".
  result.update({k: "inf" if getattr(sampler, k) == float("inf") else getattr(sampler, k) for k in CHURN_KEYS},
                seconds=round(time.perf_counter() - start))
  print(json.dumps(result, allow_nan=False))


if __name__ == "__main__":
  try:
    main()
  except (UserError, OSError) as e:
    print(f"diffusion_eval_sampler: error: {e}", file=sys.stderr)
    sys.exit(2)
