#!/usr/bin/env bash
# The sequential Fashion-MNIST comparison (experiments/README.md): every model of this folder, one after
# the other, with the same wall-clock budget, then each run's test accuracy and steps in one table.
#   experiments/fashion_mnist/run.sh [BUDGET_S (default: the configs' 900)] [OUT_DIR (default fmnist_runs)]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rmaat=${RMAAT:-$here/../../build/rmaat}
budget=${1:-}
out=${2:-fmnist_runs}
mkdir -p "$out"
for model in rmaat rmt transformer at linear; do
  cfg=$here/$model.toml
  if [ -n "$budget" ]; then  # a copy with the budget changed; the data paths in the configs are absolute
    cfg=$out/$model.toml
    sed "s/^time_budget_s = .*/time_budget_s = $budget/" "$here/$model.toml" > "$cfg"
  fi
  echo "== $model"
  start=$(date +%s.%N)
  "$rmaat" train "$cfg" -o "$out/$model.h5" --force --no-progress > "$out/$model.log" 2>&1
  awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }' > "$out/$model.wall"
  grep -E "test accuracy" "$out/$model.log" || true
done
/usr/bin/python3 - "$out" <<'PY'
import sys, h5py
print("| model | steps | wall s (train + eval) | test accuracy | peak RSS MiB |\n|---|---|---|---|---|")
for m in ["rmaat", "rmt", "transformer", "at", "linear"]:
    with h5py.File(f"{sys.argv[1]}/{m}.h5", "r") as f:
        t = f["train/metrics"]
        steps = len(t["step"])
        acc = float(f["eval/accuracy"][()])
        wall = float(open(f"{sys.argv[1]}/{m}.wall").read())
        print(f"| {m} | {steps} | {wall:.0f} | {acc:.4f} | {max(t['peak_rss_mb'][:]):.0f} |")
PY
