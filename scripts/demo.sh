#!/usr/bin/env bash
# Installs what is missing, builds, runs the built-in demo and plots it into ./demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
OUT=${1:-demo}
./build/rmaat pipeline -o "$OUT"
/usr/bin/python3 scripts/plot_run.py "$OUT/sim.h5" -o "$OUT/plots"
echo "demo: run file $OUT/sim.h5, figures in $OUT/plots/"
