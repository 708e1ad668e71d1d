#!/usr/bin/env bash
# Retention ablation on sequential Fashion-MNIST (experiments/README.md): RMAAT of
# fashion_mnist/rmaat.toml with retention paper (the default: mem <- RF mem'), blend and none, and RMT
# for reference, each for the same number of optimiser steps (no wall-clock budget, so the result does
# not depend on the machine's load), then test accuracy per variant in one table.
#   experiments/ablations/fmnist_retention.sh [STEPS (default 1500)] [OUT_DIR (default fmnist_retention)]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rmaat=${RMAAT:-$here/../../build/rmaat}
steps=${1:-1500}
out=${2:-fmnist_retention}
mkdir -p "$out"
variants=(paper blend none rmt)
for v in "${variants[@]}"; do
  cfg=$out/$v.toml
  if [ "$v" = rmt ]; then
    sed -e "s/^steps = .*/steps = $steps/" -e "s/^time_budget_s = .*/time_budget_s = 0/" \
      "$here/../fashion_mnist/rmt.toml" > "$cfg"
  else  # the rmaat config with one line added to [model]
    sed -e "s/^steps = .*/steps = $steps/" -e "s/^time_budget_s = .*/time_budget_s = 0/" \
      -e "s/^memory_tokens = .*/&\nretention = \"$v\"/" "$here/../fashion_mnist/rmaat.toml" > "$cfg"
  fi
  echo "== $v"
  "$rmaat" train "$cfg" -o "$out/$v.h5" --force --no-progress > "$out/$v.log" 2>&1
  grep -E "test accuracy" "$out/$v.log" || true
done
/usr/bin/python3 - "$out" "${variants[@]}" <<'PY'
import sys, h5py
print("| variant | steps | final train loss (mean of last 100) | test accuracy |\n|---|---|---|---|")
for v in sys.argv[2:]:
    with h5py.File(f"{sys.argv[1]}/{v}.h5", "r") as f:
        t = f["train/metrics"]
        loss = t["loss"][-100:]
        print(f"| {v} | {len(t['step'])} | {loss.mean():.4f} | {float(f['eval/accuracy'][()]):.4f} |")
PY
