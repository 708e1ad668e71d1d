#!/usr/bin/env bash
# Fails unless LibTorch's sgemm_ in each given binary binds to OpenBLAS (cmake/blas.cmake). Every
# relocation is bound at load (LD_BIND_NOW) and the dynamic linker reports where each symbol of
# libtorch_cpu went (LD_DEBUG=bindings). A LibTorch that brings its own BLAS imports no sgemm_:
# nothing to check then.
# Usage: check_blas.sh BINARY [ARGS...] [-- BINARY [ARGS...]] ...
set -uo pipefail
status=0
check() {
  local bindings torch_lib line
  bindings=$(LD_BIND_NOW=1 LD_DEBUG=bindings "$@" 2>&1 >/dev/null | grep "normal symbol \`sgemm_'")
  torch_lib=$(ldd "$1" | awk '/libtorch_cpu/ {print $3}')
  if [ -z "$torch_lib" ]; then
    echo "FAIL: $1 does not link libtorch_cpu"
    status=1
    return
  fi
  if [ "$(nm -D --undefined-only "$torch_lib" | grep -cw sgemm_)" = 0 ]; then
    echo "ok: $1: $torch_lib imports no sgemm_ (its own BLAS)"
    return
  fi
  line=$(grep "binding file [^ ]*libtorch_cpu" <<<"$bindings" | head -1)
  if [ -z "$line" ]; then
    echo "FAIL: $1: the dynamic linker reported no binding of libtorch_cpu's sgemm_"
    status=1
  elif [[ "$line" != *" to "*openblas* ]]; then
    echo "FAIL: $1: LibTorch's sgemm_ binds elsewhere than OpenBLAS: ${line#*binding file }"
    status=1
  else
    echo "ok: $1: ${line#*binding file }"
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
