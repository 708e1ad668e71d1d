#!/usr/bin/env bash
# Sanitizer tests (docs/design.md section 9): builds everything but the LibTorch parts
# (RMAAT_WITH_TORCH=OFF: no kernels/, layers/, trainer/, `rmaat bench layers`) with AddressSanitizer and
# UndefinedBehaviorSanitizer (RMAAT_SANITIZE=ON: -fno-omit-frame-pointer, every finding fatal, assertions
# on) into build-asan, and runs the tests labelled core, sim, macro, calibration and cli under them.
# A leak, an out-of-bounds access or undefined behaviour fails the test that trips it, with the stack.
# Environment: BUILD_DIR (build-asan), JOBS (nproc), CC/CXX (gcc/g++; clang works too), TEST_LABELS.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-asan}
JOBS=${JOBS:-$(nproc)}
LABELS=${TEST_LABELS:-core|sim|macro|calibration|cli|tasks}

cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER="${CC:-gcc}" -DCMAKE_CXX_COMPILER="${CXX:-g++}" \
  -DRMAAT_SANITIZE=ON -DRMAAT_WITH_TORCH=OFF
cmake --build "$BUILD_DIR" -j "$JOBS"

# Findings are fatal and print a symbolized stack (llvm-symbolizer when installed: setup.sh --dev). A huge
# allocation fails as in a production build (allocator_may_return_null); leaks inside libhdf5 on damaged
# files are HDF5's (scripts/lsan_suppressions.txt).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/scripts/lsan_suppressions.txt:print_suppressions=0}
cd "$BUILD_DIR"
ctest -L "$LABELS" --output-on-failure -j "$JOBS"
