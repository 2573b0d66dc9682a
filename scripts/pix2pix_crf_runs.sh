#!/usr/bin/env bash
# Trains the runs behind docs/pix2pix.md's and docs/restoration.md's CRF measurements:
# each arm's seeds 0, 1, 2 one after another (the later seeds reuse the first one's
# compiled programs from the XLA cache), with and without the CRF at equal steps, each
# under `nice -n 5` and `/usr/bin/time -v` (each log ends with the run's CPU time).
#
#   scripts/pix2pix_crf_runs.sh OUT ARM      # ARM: p2p | p2p_crf | denoise | denoise_crf | baselines
#
# Step counts: P2P_STEPS (default 2000, pix2pix_digits' own) and DENOISE_STEPS (default
# 1000, denoise_digits' own); docs/pix2pix.md says which were used. Grids and checkpoints
# only at the end. The arms are independent and can run at the same time; "baselines" is
# pix2pix_digits:l1 (seeds 0 1 2) and the CycleGAN on the same data unpaired (seed 0).
# Then one table per task (mean +- std over the seeds):
#   python scripts/pix2pix_table.py --data pix2pix_digits --fid \
#     "pix2pix=OUT/p2p_s?" "pix2pix + CRF=OUT/p2p_crf_s?" "L1 only=OUT/p2p_l1_s?" "CycleGAN=OUT/cyclegan_s?"
#   python scripts/pix2pix_table.py --fid "denoise=OUT/denoise_s?" "denoise + CRF=OUT/denoise_crf_s?"
# A finished run is skipped (OUT/NAME.done), so the script can be run again after an
# interruption; a half-done run resumes.
set -euo pipefail
out=${1:?usage: $0 OUT p2p|p2p_crf|denoise|denoise_crf|baselines}
arm=${2:?usage: $0 OUT p2p|p2p_crf|denoise|denoise_crf|baselines}
p2p_steps=${P2P_STEPS:-2000}
denoise_steps=${DENOISE_STEPS:-1000}
here=$(cd "$(dirname "$0")/.." && pwd)
aigc=${AIGC:-$here/.venv/bin/aigc}
mkdir -p "$out"

train() {  # name config steps [overrides...]
  local name=$1 config=$2 steps=$3; shift 3
  if [ -e "$out/$name.done" ]; then echo "skip $name"; return; fi
  echo "$(date -u +%H:%M:%S) start $name (load: $(cut -d' ' -f1-3 /proc/loadavg))"
  nice -n 5 /usr/bin/time -v "$aigc" train --config "$config" --workdir "$out/$name" --config.num_steps="$steps" \
    --config.sample_every="$steps" --config.checkpoint_every="$steps" "$@" > "$out/$name.log" 2>&1
  echo "$(date -u +%H:%M:%S) done $name (load: $(cut -d' ' -f1-3 /proc/loadavg))" | tee "$out/$name.done"
}

case $arm in
  p2p) for s in 0 1 2; do train "p2p_s$s" configs/pix2pix_digits.py "$p2p_steps" --config.seed=$s; done ;;
  p2p_crf) for s in 0 1 2; do train "p2p_crf_s$s" configs/pix2pix_digits.py:crf "$p2p_steps" --config.seed=$s; done ;;
  denoise) for s in 0 1 2; do train "denoise_s$s" configs/denoise_digits.py "$denoise_steps" --config.seed=$s; done ;;
  denoise_crf)
    for s in 0 1 2; do train "denoise_crf_s$s" configs/denoise_digits.py:crf "$denoise_steps" --config.seed=$s; done ;;
  baselines)
    train p2p_l1_s0 configs/pix2pix_digits.py:l1 "$p2p_steps" --config.seed=0
    [ -d "$out/digits_edges_unpaired" ] ||
      "$here/.venv/bin/python" "$here/scripts/pix2pix_table.py" --export-unpaired "$out/digits_edges_unpaired"
    # CycleGAN's schedule is in epochs of steps_per_epoch steps: half constant, half decay.
    train cyclegan_s0 configs/pix2pix_digits_cyclegan.py "$p2p_steps" --config.data.path="$out/digits_edges_unpaired" \
      --config.steps_per_epoch=$((p2p_steps / 20))
    for s in 1 2; do train "p2p_l1_s$s" configs/pix2pix_digits.py:l1 "$p2p_steps" --config.seed=$s; done ;;
  *) echo "unknown arm $arm" >&2; exit 2 ;;
esac
