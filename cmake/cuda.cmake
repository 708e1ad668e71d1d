# The CUDA kernels (kernels/cuda/, docs/design.md section 5.3). RMAAT_CUDA = AUTO (default) builds them
# whenever nvcc is found (the standard prefix /usr/local/cuda is tried too), ON requires nvcc, OFF skips.
# They take raw pointers and need the CUDA runtime only, so without a CUDA-enabled LibTorch they are
# built as a compile-only library (CI checks that they compile); with one (the device's torch), they
# join rmaat_kernels, which then dispatches CUDA tensors to them (RMAAT_HAVE_CUDA), and the `gpu` tests
# are built. Sets RMAAT_NVCC (kernels compile) and RMAAT_TORCH_CUDA (kernels run).
set(RMAAT_CUDA AUTO CACHE STRING "Build the CUDA kernels: AUTO (when nvcc is found), ON or OFF")
set_property(CACHE RMAAT_CUDA PROPERTY STRINGS AUTO ON OFF)
set(RMAAT_NVCC OFF)
set(RMAAT_TORCH_CUDA OFF)
if(RMAAT_WITH_TORCH AND NOT RMAAT_CUDA STREQUAL "OFF" AND NOT RMAAT_SANITIZE)
  if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX} AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 90)  # H100 / H200; override with -DCMAKE_CUDA_ARCHITECTURES=...
    endif()
    enable_language(CUDA)
    set(CMAKE_CUDA_STANDARD 17)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    find_package(CUDAToolkit REQUIRED)
    set(RMAAT_NVCC ON)
    if(TARGET torch_cuda OR TORCH_CUDA_LIBRARIES)
      set(RMAAT_TORCH_CUDA ON)
    endif()
  elseif(RMAAT_CUDA STREQUAL "ON")
    message(FATAL_ERROR "RMAAT_CUDA=ON but no CUDA compiler (nvcc) was found; set CMAKE_CUDA_COMPILER")
  endif()
endif()
message(STATUS "rmaat: CUDA kernels: compiled ${RMAAT_NVCC}, linked into the LibTorch path ${RMAAT_TORCH_CUDA}")
