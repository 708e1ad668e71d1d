#!/usr/bin/env bash
# Installs what is missing, builds, runs the built-in demo pipeline (simulate -> calibrate -> train ->
# eval on ListOps-mini) and plots it into ./demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
OUT=${1:-demo}
./build/rmaat pipeline -o "$OUT" --force  # a rerun replaces the previous demo
/usr/bin/python3 scripts/plot_run.py "$OUT/sim.h5" -o "$OUT/plots"
/usr/bin/python3 scripts/plot_run.py "$OUT/calib.h5" -o "$OUT/plots"
if [ -f "$OUT/train.h5" ]; then  # a build with LibTorch trains too
  /usr/bin/python3 scripts/plot_run.py "$OUT/train.h5" -o "$OUT/plots"
fi
echo "demo: run file $OUT/sim.h5, calibration $OUT/calib.h5 ($OUT/calib.summary.txt), training $OUT/train.h5,"
echo "      figures in $OUT/plots/"
