#!/usr/bin/env bash
# The one-shot accelerator benchmark: `aigc bench --sizes device` (or --tiny) on whatever
# device JAX sees, writing OUT_DIR/device_bench.json (after every row, so a run cut short
# keeps what it measured) and OUT_DIR/device_bench.log.
#
#   scripts/device_bench.sh [--tiny] OUT_DIR [more `aigc bench` options]
#
# Installs nothing from the network: wheels in $AIGC_WHEELS (default: .whl in the
# repository root, made here by scripts/device_wheels.sh) are installed offline into a
# private folder, and where this python cannot import aigc_jax the working tree is put
# beside them. $PYTHON picks the interpreter (default python3). docs/benchmarks.md shows
# the device-tool command.
set -euo pipefail
sizes=device
if [[ ${1:-} == --tiny ]]; then sizes=tiny; shift; fi
out=${1:?usage: scripts/device_bench.sh [--tiny] OUT_DIR [aigc bench options]}
shift
root=$(cd "$(dirname "$0")/.." && pwd)
py=${PYTHON:-python3}
wheels=${AIGC_WHEELS:-$root/.whl}
site=${AIGC_SITE:-${TMPDIR:-/tmp}/aigc_bench_site}
mkdir -p "$out"
if compgen -G "$wheels/*.whl" >/dev/null; then
  "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" "$wheels"/*.whl
  export PYTHONPATH=$site${PYTHONPATH:+:$PYTHONPATH}
fi
if ! "$py" -P -c "import aigc_jax.configs" 2>/dev/null; then
  # As an install lays it out: the repository's configs/ is the package aigc_jax.configs.
  rm -rf "$site/aigc_jax" && mkdir -p "$site"
  cp -r "$root/aigc_jax" "$site/" && cp -r "$root/configs" "$site/aigc_jax/"
  export PYTHONPATH=$site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONUNBUFFERED=1
# -P: the working directory (perhaps this repository, without aigc_jax.configs) goes
# first on sys.path otherwise.
timeout "${AIGC_BENCH_TIMEOUT:-480}" "$py" -P -m aigc_jax.cli.main bench --sizes "$sizes" \
    --json "$out/device_bench.json" "$@" 2>&1 | tee "$out/device_bench.log"
