#!/usr/bin/env bash
# Fails unless sgemm_ in each given binary binds to OpenBLAS (cmake/blas.cmake). Every relocation is
# bound at load (LD_BIND_NOW) and the dynamic linker reports where each symbol went (LD_DEBUG).
# Usage: check_blas.sh BINARY [ARGS...] -- BINARY [ARGS...] ...
set -uo pipefail
status=0
check() {
  local log
  log=$(LD_BIND_NOW=1 LD_DEBUG=bindings "$@" 2>&1 >/dev/null | grep "normal symbol \`sgemm_'" | head -1)
  if [ -z "$log" ]; then
    echo "FAIL: $1: no binding of sgemm_ reported (is LibTorch linked?)"
    status=1
  elif [[ "$log" != *"to "*openblas* ]]; then
    echo "FAIL: $1: sgemm_ binds elsewhere than OpenBLAS: $log"
    status=1
  else
    echo "ok: $1: ${log#*binding }"
  fi
}
args=()
for a in "$@"; do
  if [ "$a" = "--" ]; then
    check "${args[@]}"
    args=()
  else
    args+=("$a")
  fi
done
[ ${#args[@]} -gt 0 ] && check "${args[@]}"
exit $status
