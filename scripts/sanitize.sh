#!/usr/bin/env bash
# Sanitizer tests (docs/design.md section 9): builds everything but the LibTorch parts with
# AddressSanitizer and UndefinedBehaviorSanitizer (every finding fatal, assertions on; the build is
# scripts/instrumented_build.sh's, shared with scripts/fuzz.sh) and runs the tests labelled core, sim,
# macro, calibration, cli and tasks under them. A leak, an out-of-bounds access or undefined behaviour
# fails the test that trips it, with the stack.
# Environment: see scripts/instrumented_build.sh; TEST_LABELS (core|sim|macro|calibration|cli|tasks).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/instrumented_build.sh
LABELS=${TEST_LABELS:-core|sim|macro|calibration|cli|tasks}

configure_instrumented
cmake --build "$BUILD_DIR" -j "$JOBS"
cd "$BUILD_DIR"
ctest -L "$LABELS" --output-on-failure -j "$JOBS"
