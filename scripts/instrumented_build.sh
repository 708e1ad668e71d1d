# Sourced by scripts/sanitize.sh and scripts/fuzz.sh (docs/design.md section 9): both use one
# instrumented build, so CI compiles the code once for the sanitizer tests and the fuzz targets.
#   clang, AddressSanitizer + UndefinedBehaviorSanitizer (+ libFuzzer's coverage when RMAAT_FUZZ=ON, the
#   default), without LibTorch (RMAAT_WITH_TORCH=OFF), -O1 with line tables: readable stacks, a third of
#   the compile time of -O2 -g.
# Environment: BUILD_DIR (build-san), JOBS (nproc), CC/CXX (clang/clang++), RMAAT_FUZZ (ON; OFF for a
# sanitizer-only build, e.g. with CC=gcc CXX=g++).
BUILD_DIR=${BUILD_DIR:-build-san}
JOBS=${JOBS:-$(nproc)}

configure_instrumented() {
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
    -DCMAKE_C_COMPILER="${CC:-clang}" -DCMAKE_CXX_COMPILER="${CXX:-clang++}" \
    -DRMAAT_SANITIZE=ON -DRMAAT_FUZZ="${RMAAT_FUZZ:-ON}" -DRMAAT_WITH_TORCH=OFF
}

# Findings are fatal and print a symbolized stack (llvm-symbolizer: setup.sh --dev). A huge allocation
# fails as in a production build (allocator_may_return_null: HDF5 reports an error, C++ throws
# std::bad_alloc) instead of ASan aborting inside the uninstrumented libhdf5; leaks inside libhdf5 on
# damaged files are HDF5's (scripts/lsan_suppressions.txt).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/scripts/lsan_suppressions.txt:print_suppressions=0}
