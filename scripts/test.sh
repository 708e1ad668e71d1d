#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole CPU test suite (GPU tests are excluded).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -LE gpu -j "${JOBS:-$(nproc)}"
