"""One table for several runs on the same held-out data: pix2pix, its CRF variant and its
baselines (aigc_jax.evaluation.baselines), mean +- std over each group's runs (seeds).

  python scripts/pix2pix_table.py --data pix2pix_digits --fid \
      "pix2pix=runs/p2p_s*" "pix2pix + CRF=runs/p2p_crf_s*" "L1 only=runs/p2p_l1_s*" "CycleGAN=runs/cyclegan_s0"
  python scripts/pix2pix_table.py --fid "denoise=runs/denoise_s*" "denoise + CRF=runs/denoise_crf_s*"
  python scripts/pix2pix_table.py --export-unpaired runs/digits_edges_unpaired [--data pix2pix_digits]
  python scripts/pix2pix_table.py --data pix2pix_digits --figure docs/images/pix2pix_crf.png runs/p2p_s0 runs/p2p_crf_s0

With --data (a paired config) the groups are translators (pix2pix, CycleGAN runs) scored
on its test pairs, with the identity row; without it, restoration runs on their own
corrupted test images, with the corrupted input's row. scripts/pix2pix_crf_runs.sh
trains the runs. --json also writes every run's scores. --figure writes rows of test
pairs: the input, each workdir's output (the positional arguments, in order), the target.
"""

import argparse
import glob
import json

from aigc_jax import configlib, images
from aigc_jax.evaluation import baselines


def main():
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("groups", nargs="*", help='"NAME=GLOB[,GLOB...]": the workdirs of one row')
  p.add_argument("--data", help="a paired config (e.g. pix2pix_digits): score translators on its test pairs")
  p.add_argument("--fid", action="store_true", help="add digits_fid (digit outputs)")
  p.add_argument("--num-samples", type=int, default=None)
  p.add_argument("--export-unpaired", metavar="DIR", help="write --data's pairs as an unpaired CycleGAN folder")
  p.add_argument("--json", help="write every run's scores here")
  p.add_argument("--figure", metavar="PNG", help="write a figure of the given workdirs' outputs on --data's pairs")
  args = p.parse_args()
  data = configlib.load_config(args.data or "pix2pix_digits").data
  if args.export_unpaired:
    print(baselines.export_unpaired(data, args.export_unpaired))
    return
  if args.figure:
    rows = baselines.figure_rows(args.groups, data, num=10)
    images.save_grid(rows, args.figure, ncols=10, upscale=4)
    return
  rows, runs = {}, {}
  for group in args.groups:
    name, patterns = group.split("=", 1)
    workdirs = sorted(w for pattern in patterns.split(",") for w in glob.glob(pattern) if not w.endswith((".log", ".done")))
    if args.data:
      runs[name] = baselines.score_translators(workdirs, data, num_samples=args.num_samples, fid=args.fid)
    else:
      runs[name], corrupted = baselines.score_restorers(workdirs, num_samples=args.num_samples, fid=args.fid)
      runs.setdefault("corrupted input", [corrupted])
    runs[name] = [dict(r, workdir=w) for r, w in zip(runs[name], workdirs)]
  if args.data:
    runs[baselines.IDENTITY] = [baselines.score_identity(data, num_samples=args.num_samples, fid=args.fid)]
  for name, results in runs.items():
    rows[name] = baselines.summary(results)
  print(baselines.markdown(rows))
  if args.json:
    with open(args.json, "w") as f:
      json.dump(runs, f, indent=1)


if __name__ == "__main__":
  main()
