#!/usr/bin/env bash
# The ML column (kernels, layers, trainer, calibration reader) neither links nor uses the simulator,
# the macro-model fits or Ceres: a test binary built on it lists no libceres among its needed shared
# libraries and holds no symbol of rmaat::sim, rmaat::macro or ceres.
# Usage: check_columns.sh BINARY
set -uo pipefail
bin=$1
needed=$(readelf -d "$bin" | grep NEEDED)
if grep -qi ceres <<<"$needed"; then
  echo "FAIL: $bin needs Ceres:"; grep -i ceres <<<"$needed"; exit 1
fi
syms=$(nm -C "$bin" | grep -E " (rmaat::sim::|rmaat::macro::|rmaat::calib::calibrate|ceres::)" | head -5 | cut -c1-160)
if [ -n "$syms" ]; then
  echo "FAIL: $bin holds simulator, fit or Ceres code:"; echo "$syms"; exit 1
fi
echo "ok: $bin: $(grep -c . <<<"$needed") needed libraries, none of them Ceres; no sim/macro/ceres symbols"
