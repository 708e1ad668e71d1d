#!/usr/bin/env bash
# Data-parallel step time and scaling (docs/design.md 6.5): the same model, data and global batch
# trained by one process and by `rmaat train --nproc 2`, side by side, ROUNDS times interleaved.
#   bash bench/dp_scaling.sh [RMAAT] [ROUNDS] [STEPS] [BACKPROP]   (BACKPROP: amrb (default) or bptt; under
#   bptt the gradient buckets go out during the backward)
# Prints a Markdown table: mean step time (rank 0's training-loop wall time / steps, the median over
# rounds) and tokens/s (median of steps 6..STEPS of /train/metrics, then over rounds) per variant, the
# speedup over one process on one thread at the same global batch, and the scaling efficiency
# (speedup / cores used). Needs python3-h5py.
set -euo pipefail
RMAAT=${1:-build/rmaat}
ROUNDS=${2:-3}
STEPS=${3:-40}
BACKPROP=${4:-amrb}
RMAAT=$(realpath "$RMAAT")
work=$(mktemp -d /tmp/rmaat-dp-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
config() {  # $1 threads per rank, $2 global batch
  cat <<TOML
[model]
kind = "rmaat"
d_model = 64
n_heads = 4
n_layers = 2
d_ff = 128
dropout = 0.1
segment_length = 64
memory_tokens = 8

[train]
steps = $STEPS
batch_size = $2
lr = 0.003
warmup = 10
eval_every = 0
checkpoint_every = $STEPS
threads = $1
seed = 1
backprop = "$BACKPROP"

[data]
task = "listops-mini"
generate = true
n_train = 2000
n_val = 20
n_test = 20
seed = 1
TOML
}
# name, threads per rank, ranks, global batch
variants=("1 process, 1 thread|1|1|32" "1 process, 2 threads|2|1|32" "2 ranks x 1 thread|1|2|32"
          "1 process, 1 thread, batch 16|1|1|16" "2 ranks x 1 thread, batch 16|1|2|16")
for ((r = 0; r < ROUNDS; r++)); do
  for i in "${!variants[@]}"; do
    IFS='|' read -r name threads ranks batch <<<"${variants[$i]}"
    config "$threads" "$batch" >"$work/v$i.toml"
    out="$work/v$i.r$r.h5"
    "$RMAAT" train "$work/v$i.toml" -o "$out" --nproc "$ranks" --no-progress -q >/dev/null
  done
done
/usr/bin/python3 - "$work" "$ROUNDS" "${variants[@]}" <<'PY'
import sys, statistics, h5py
work, rounds, variants = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
rows = []
for i, v in enumerate(variants):
    name, threads, ranks, batch = v.split("|")
    step_ms, tps = [], []
    for r in range(rounds):
        with h5py.File(f"{work}/v{i}.r{r}.h5", "r") as f:
            state = f["train/state"].attrs
            step_ms.append(1e3 * state["elapsed_s"] / state["step"])
            tps.append(statistics.median(f["train/metrics/tokens_per_s"][5:]))
    rows.append((name, int(threads) * int(ranks), int(batch), statistics.median(step_ms), statistics.median(tps)))
base = {b: ms for (name, cores, b, ms, tps) in rows if cores == 1}
print("| variant | cores | global batch | step (ms) | tokens/s | speedup vs 1 process, 1 thread | efficiency |")
print("|---|---|---|---|---|---|---|")
for name, cores, b, ms, tps in rows:
    s = base[b] / ms
    print(f"| {name} | {cores} | {b} | {ms:.1f} | {tps:,.0f} | {s:.2f}x | {s / cores:.0%} |")
PY
