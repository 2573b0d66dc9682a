#!/usr/bin/env bash
# The measurements of docs/diffusion.md, one run after another: configs/diffusion_digits.py
# class-conditional and :uncond (the shipped recipe: rectified flow at 8x8, 1,650 steps;
# VARIANT adds variants to both: res16 the 16x16 network, edm+res16 EDM's objective at
# 16x16, the older tables of docs/diffusion.md), seeds 0, 1, 2, each scored by
# `aigc eval --steps 18`
# (35 network evaluations, 2,000 samples, the sampler of the run's config.json: churned
# for runs trained since that became the default; conditional runs at guidance 1 and 2;
# scripts/diffusion_eval_sampler.py scores a run with other churn settings); on seed
# 0, quality against NFE (steps 3, 5, 9: 5, 9, 17 NFE) and against the guidance scale;
# the sample grid of docs/images/diffusion_digits.png; then a summary (mean, standard
# deviation and the values of the three seeds). Wall and CPU times of each training run
# and the load (uptime) go next to its results in OUT/*.time.
#
# Resumable: a finished file is not made again, and a stopped training run resumes from
# its last checkpoint. The cheap and the headline figures come first (seed 0 with its NFE
# table, then whole seeds at guidance 1), the costly guided evaluations (about twice a
# plain one) last.
#
#   scripts/diffusion_digits_runs.sh [OUT]              # default runs/diffusion_measure
#   VARIANT=edm+res16 scripts/diffusion_digits_runs.sh runs/edm_measure
set -euo pipefail
OUT=${1:-runs/diffusion_measure}
AIGC=${AIGC:-.venv/bin/aigc}
PY=${PY:-.venv/bin/python}
mkdir -p "$OUT"

evaluate() {  # WORKDIR FILE ARGS...: `aigc eval ARGS` into WORKDIR/FILE unless it is there.
  local w=$1 f=$2; shift 2
  [ -f "$w/$f" ] || { nice -n 5 "$AIGC" eval --workdir "$w" "$@" > "$w/$f.part" && mv "$w/$f.part" "$w/$f"; }
}

train() {  # VARIANT SEED: train (or resume) one run and score it at 18 steps, guidance 1.
  local variant=$1 seed=$2 w="$OUT/${1}_s$2" extra=${VARIANT:-}
  local config=diffusion_digits${extra:+:$extra}
  [ "$variant" = uncond ] && config=diffusion_digits:uncond${extra:++$extra}
  if [ ! -f "$w/eval_s18.json" ]; then
    uptime >> "$w.time"
    nice -n 5 /usr/bin/time -a -o "$w.time" -f "wall %e s, user %U s, sys %S s" \
      "$AIGC" train --config "$config" --config.seed="$seed" --workdir "$w"
    uptime >> "$w.time"
  fi
  evaluate "$w" eval_s18.json --steps 18
}

for seed in 0 1 2; do
  for variant in cond uncond; do train "$variant" "$seed"; done
  if [ "$seed" = 0 ]; then
    for variant in cond uncond; do
      for steps in 3 5 9; do evaluate "$OUT/${variant}_s0" "eval_s$steps.json" --steps "$steps"; done
    done
  fi
done
for seed in 0 1 2; do evaluate "$OUT/cond_s$seed" eval_s18_g2.json --steps 18 --guidance 2; done
for g in 0 3 1.5 0.5; do evaluate "$OUT/cond_s0" "eval_s18_g$g.json" --steps 18 --guidance "$g"; done
mkdir -p docs/images
"$AIGC" sample --workdir "$OUT/cond_s0" --steps 18 --labels 0,1,2,3,4,5,6,7,8,9 --num 100 \
  --out docs/images/diffusion_digits.png

"$PY" - "$OUT" <<'PYEOF'
import glob, json, os, sys
import numpy as np
out = sys.argv[1]
keys = ("digits_is", "digits_fid", "conditional_accuracy", "digits_memorised_share")
for name in sorted({os.path.basename(p) for p in glob.glob(f"{out}/*_s*/eval_*.json")}):
  for variant in ("cond", "uncond"):
    rows = [json.load(open(p)) for p in sorted(glob.glob(f"{out}/{variant}_s[0-9]/{name}"))]
    for k in keys:
      v = [r[k] for r in rows if k in r]
      if v:
        print(f"{variant:6s} {name:20s} {k:20s} {np.mean(v):8.3f} +- {np.std(v, ddof=1) if len(v) > 1 else 0:.3f} "
              f"({', '.join(f'{x:.3f}' for x in v)}) nfe {rows[0]['nfe']}")
PYEOF
