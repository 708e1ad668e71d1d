# Every executable binds BLAS (sgemm_, dgemm_) to OpenBLAS.
#
# Why: Ceres's dependencies pull ATLAS's libf77blas.so.3 into the process. The dynamic linker binds a
# symbol to the first library in load order that defines it, and without this ATLAS came before
# libtorch_cpu's own OpenBLAS: LibTorch's matrix products ran on ATLAS, 1.5-2.5x slower (measured in
# bench/RESULTS.md). Naming OpenBLAS first among each executable's needed libraries puts it first in
# the lookup order. tests/check_blas.sh checks the real binding of the built binaries.
#
# Where no OpenBLAS exists (pip LibTorch brings its own BLAS inside libtorch_cpu), nothing changes.
find_library(RMAAT_OPENBLAS NAMES libopenblas.so.0 openblas
  PATHS /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64 /usr/lib
  NO_DEFAULT_PATH)
if(RMAAT_OPENBLAS)
  message(STATUS "BLAS: binding executables to ${RMAAT_OPENBLAS} first")
  # Before the objects and every library on the link line, kept even though no object calls it.
  string(APPEND CMAKE_EXE_LINKER_FLAGS " -Wl,--push-state,--no-as-needed ${RMAAT_OPENBLAS} -Wl,--pop-state")
else()
  message(STATUS "BLAS: no system OpenBLAS found; LibTorch uses the BLAS it was built with")
endif()
