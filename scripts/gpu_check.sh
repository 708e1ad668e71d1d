#!/usr/bin/env bash
# The GPU check, for a fresh CUDA machine without package access (the project's device image:
# CUDA 13, python3 with torch 2.x, Catch2 3, Boost, Eigen, HDF5, cmake): configure against torch's own
# LibTorch, build the kernels, the `gpu` tests and the GPU benchmark, run the tests, then the benchmark,
# and print what ran.
#   bash scripts/gpu_check.sh [--quick]        (about 5 minutes on an H200 with 16 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
quick=${1:-}
build=${BUILD_DIR:-build-gpu}
start=$SECONDS
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
echo "gpu_check: torch $(python3 -c 'import torch; print(torch.__version__, torch.version.cuda)')"
# The whole project when its dependencies are there (adds the AMRB vs BPTT GPU test); otherwise only
# kernels/ (RMAAT_KERNELS_ONLY: LibTorch, nvcc and Catch2 suffice; the device image lacks toml++,
# CLI11, fmt and Ceres).
generator=$(command -v ninja > /dev/null && echo Ninja || echo 'Unix Makefiles')
configure() {
  cmake -S . -B "$build" -G "$generator" -DCMAKE_BUILD_TYPE=Release -DRMAAT_CUDA=ON \
    -DCMAKE_PREFIX_PATH="$prefix" ${CUDA_ARCH:+-DCMAKE_CUDA_ARCHITECTURES=$CUDA_ARCH} "$@"
}
whole=
if configure -DRMAAT_KERNELS_ONLY=OFF > "$build.configure.log" 2>&1; then
  echo "gpu_check: whole project"
  whole=1
else
  echo "gpu_check: the whole project does not configure here ($(grep -m1 -i 'could not find\|error' "$build.configure.log")); kernels only"
  rm -rf "$build"
  configure -DRMAAT_KERNELS_ONLY=ON
fi
cmake --build "$build" -j "$(nproc)" --target test_cuda gpu_attention_bench test_kernels ${whole:+rmaat}
echo "gpu_check: built in $((SECONDS - start)) s"
(cd "$build" && ctest -L gpu --output-on-failure -j 1) || status=$?
(cd "$build" && ctest -L kernels --output-on-failure -j "$(nproc)") || status=$?
"$build/kernels/gpu_attention_bench" $quick
if [ -n "$whole" ]; then  # the trainer on the GPU: ListOps-mini, 300 steps, fp32 and bf16 (peak memory, accuracy)
  for precision in fp32 bf16; do
    sed -e "/^\[train\]/a precision = \"$precision\"" -e 's/^steps = .*/steps = 300/' \
      examples/listops_mini.toml > "$build/gpu_$precision.toml"
    t0=$SECONDS
    "$build/rmaat" train "$build/gpu_$precision.toml" -o "$build/gpu_$precision.h5" --device cuda --no-progress -f \
      2>&1 | grep -E "peak device memory|^test|accuracy =|error" || status=1
    echo "gpu_check: train $precision on cuda: $((SECONDS - t0)) s"
  done
fi
echo "gpu_check: total $((SECONDS - start)) s"
exit "${status:-0}"
