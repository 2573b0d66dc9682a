"""The figures of docs/text.md: both text runs over seeds, evaluated, as one table.

  nice -n 5 python scripts/measure_text2img.py --root runs/text_seeds --seeds 0,1,2

For each seed S: `aigc train` of configs/text_encoder_digits.py and of
configs/text2img_digits.py on it (`--config.seed=S`), then `aigc eval` of both; prints
each run's metrics and the mean and standard deviation (ddof 1) over the seeds.
Existing runs resume (a finished one is only evaluated again).
"""

import argparse
import contextlib
import io
import json
import os

import numpy as np

from aigc_jax.cli.main import main as aigc

KEYS = ("conditional_accuracy", "thickness_correlation", "slant_correlation", "digits_is", "digits_fid",
        "r_precision", "encoder_r_precision")


def _eval(workdir: str) -> dict:
  out = io.StringIO()
  with contextlib.redirect_stdout(out):
    assert aigc(["eval", "--workdir", workdir]) == 0
  return json.loads(out.getvalue().strip().splitlines()[-1])


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--root", default="runs/text_seeds")
  parser.add_argument("--seeds", default="0,1,2")
  args = parser.parse_args()
  rows = {}
  for seed in [int(s) for s in args.seeds.split(",")]:
    encoder = os.path.join(args.root, f"text_encoder_s{seed}")
    gan = os.path.join(args.root, f"text2img_s{seed}")
    assert aigc(["train", "--config", "text_encoder_digits", "--workdir", encoder, f"--config.seed={seed}"]) == 0
    assert aigc(["train", "--config", "text2img_digits", "--workdir", gan, f"--config.seed={seed}",
                 f"--config.text_encoder_workdir={encoder}"]) == 0
    rows[seed] = {**_eval(gan), "encoder_alone_r_precision": _eval(encoder)["r_precision"]}
    print(json.dumps({"seed": seed, **{k: rows[seed][k] for k in KEYS}}), flush=True)
  for key in (*KEYS, "encoder_alone_r_precision"):
    values = np.array([r[key] for r in rows.values()])
    spread = values.std(ddof=1) if len(values) > 1 else float("nan")
    print(f"| {key} | {values.mean():.3f} ± {spread:.3f} | {', '.join(f'{v:.3f}' for v in values)} |")


if __name__ == "__main__":
  main()
