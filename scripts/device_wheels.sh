#!/usr/bin/env bash
# Downloads, here, the wheels that `scripts/device_bench.sh` needs on the accelerator
# machine and its image lacks (Python 3.12, manylinux x86-64; it has jax, flax, optax,
# orbax, torch, torchvision, numpy, scipy, protobuf, ... but reaches no network).
#
#   scripts/device_wheels.sh [--train] [OUT_DIR]      # default: .whl in the repository root
#
# The list is what `aigc bench` imports (the train tasks import the data layer, hence
# tfds and grain) less what the device image holds (docs/benchmarks.md), each at the
# version installed here when there is one. --no-deps: every needed package is named.
# --train adds what `aigc train` and `aigc eval` import beyond the bench (the TensorBoard
# writer; tfds' preparation of a dataset), as found missing on the device on 2026-11-30.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
train=0
if [[ ${1:-} == --train ]]; then train=1; shift; fi
out=${1:-$root/.whl}
py=${PYTHON:-python3}
packages=(ml-collections pytorch-fid tensorflow-datasets tensorflow-metadata grain array-record dm-pix
          immutabledict portpicker promise toml)
if ((train)); then
  packages+=(tensorboardX termcolor importlib_resources simple_parsing docstring-parser dm-tree
             googleapis-common-protos)
fi
pins=()
for p in "${packages[@]}"; do
  v=$("$py" -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$p" 2>/dev/null || true)
  pins+=("$p${v:+==$v}")
done
mkdir -p "$out"
platforms=()
for tag in manylinux_2_28 manylinux_2_27 manylinux_2_17 manylinux2014 manylinux1; do
  platforms+=(--platform "${tag}_x86_64")
done
for pin in "${pins[@]}"; do
  if ! "$py" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      "${platforms[@]}" -d "$out" "$pin"; then
    # A pure-Python package published only as a source archive (promise): build its wheel here.
    "$py" -m pip wheel -q --no-deps --no-binary=:all: -w "$out" "$pin"
  fi
done
ls -l "$out"
