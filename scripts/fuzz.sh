#!/usr/bin/env bash
# Fuzz smoke run (docs/design.md section 9). Builds the libFuzzer targets (fuzz/) in the instrumented
# build of scripts/instrumented_build.sh (clang, ASan + UBSan + coverage, without LibTorch; the one
# scripts/sanitize.sh tests), then for each target
#   1. replays every input kept in fuzz/regressions/<target>/ (inputs that once crashed it);
#   2. fuzzes it for FUZZ_SECONDS from its seed corpus (<build>/fuzz/seeds/<target>: the example
#      configs, small run and calibration files written at build time) and its working corpus
#      (<build>/fuzz/corpus/<target>, kept between local runs).
# A crash, a leak, undefined behaviour, an uncaught exception other than an InputError, a timeout or an
# out-of-memory fails the script; the input is kept as fuzz/regressions/<target>/<kind>-<sha1>: commit
# it with the fix, and the replay checks it from then on.
# Environment: FUZZ_SECONDS (30), FUZZ_TARGETS (config run_file calibration_file data), and those of
# scripts/instrumented_build.sh (BUILD_DIR: build-san).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/instrumented_build.sh
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
FUZZ_TARGETS=${FUZZ_TARGETS:-config run_file calibration_file data}

configure_instrumented
targets=()
for t in $FUZZ_TARGETS; do targets+=("fuzz_$t"); done
cmake --build "$BUILD_DIR" -j "$JOBS" --target fuzz_seeds "${targets[@]}"

# Per input: 25 s, 2.5 GB (a file that makes a reader allocate more is a finding, not a slow test).
LIMITS=(-timeout=25 -rss_limit_mb=2560 -malloc_limit_mb=2560 -report_slow_units=1000)
failed=()

for t in $FUZZ_TARGETS; do
  bin="$BUILD_DIR/fuzz/fuzz_$t"
  regressions="fuzz/regressions/$t"
  corpus="$BUILD_DIR/fuzz/corpus/$t"
  mkdir -p "$regressions" "$corpus"
  dict=()
  if [ -f "fuzz/$t.dict" ]; then dict=(-dict="fuzz/$t.dict"); fi

  # 1. Replay: each kept input once.
  for input in "$regressions"/*; do
    [ -f "$input" ] || continue
    if ! "$bin" "${LIMITS[@]}" -artifact_prefix="$BUILD_DIR/fuzz/replay-" "$input" > "$BUILD_DIR/fuzz/replay.log" 2>&1; then
      cat "$BUILD_DIR/fuzz/replay.log"
      echo "fuzz: $t: the regression input $input still fails"
      failed+=("$input")
    fi
  done

  # 2. Bounded fuzzing; a crash input lands in fuzz/regressions/<target>/.
  before=$(ls "$regressions" | wc -l)
  echo "fuzz: $t: fuzzing for ${FUZZ_SECONDS} s"
  if ! "$bin" "${LIMITS[@]}" "${dict[@]}" -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 \
      -artifact_prefix="$regressions/" "$corpus" "$BUILD_DIR/fuzz/seeds/$t" > "$BUILD_DIR/fuzz/$t.log" 2>&1; then
    tail -n 80 "$BUILD_DIR/fuzz/$t.log"
    echo "fuzz: $t: found a failing input (full log: $BUILD_DIR/fuzz/$t.log)"
    failed+=("$t")
  else
    grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$BUILD_DIR/fuzz/$t.log" | sed "s/^/fuzz: $t: /" || true
  fi
  if [ "$(ls "$regressions" | wc -l)" -gt "$before" ]; then
    echo "fuzz: $t: new regression input(s), commit them with the fix:"
    ls -t "$regressions" | head -n $(( $(ls "$regressions" | wc -l) - before )) | sed "s|^|  $regressions/|"
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}"
  exit 1
fi
echo "fuzz: all targets clean (${FUZZ_SECONDS} s each, regressions replayed)"
