# torch.distributed (c10d) for data-parallel training (trainer/data_parallel.cpp, docs/design.md 6.5).
# Gloo: LibTorch's c10d headers plus gloo's own (Debian: libgloo-dev; a pip wheel ships them in its
# include directory). NCCL: a CUDA LibTorch whose c10d has ProcessGroupNCCL and nccl.h beside it.
# Without Gloo, rmaat still builds; a run with WORLD_SIZE > 1 is then refused with a clear error.
set(RMAAT_GLOO OFF)
set(RMAAT_NCCL OFF)
find_path(RMAAT_C10D_INCLUDE torch/csrc/distributed/c10d/ProcessGroupGloo.hpp HINTS ${TORCH_INCLUDE_DIRS})
find_path(RMAAT_GLOO_INCLUDE gloo/context.h HINTS ${TORCH_INCLUDE_DIRS})
if(RMAAT_C10D_INCLUDE AND RMAAT_GLOO_INCLUDE)
  set(RMAAT_GLOO ON)
  find_library(RMAAT_GLOO_LIBRARY gloo)  # Debian's libtorch links a shared libgloo; wheels have it inside
  if(RMAAT_TORCH_CUDA)
    find_path(RMAAT_NCCL_INCLUDE nccl.h HINTS ${TORCH_INCLUDE_DIRS} ${CUDAToolkit_INCLUDE_DIRS} /usr/local/cuda/include)
    if(RMAAT_NCCL_INCLUDE AND EXISTS ${RMAAT_C10D_INCLUDE}/torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp)
      set(RMAAT_NCCL ON)
    endif()
  endif()
endif()
message(STATUS "rmaat: data parallel: Gloo ${RMAAT_GLOO}, NCCL ${RMAAT_NCCL}")

function(rmaat_enable_distributed target)
  if(NOT RMAAT_GLOO)
    return()
  endif()
  target_compile_definitions(${target} PRIVATE RMAAT_HAVE_GLOO USE_C10D_GLOO)
  target_include_directories(${target} SYSTEM PRIVATE ${RMAAT_GLOO_INCLUDE})
  if(RMAAT_GLOO_LIBRARY)
    target_link_libraries(${target} PRIVATE ${RMAAT_GLOO_LIBRARY})
  endif()
  if(RMAAT_NCCL)
    target_compile_definitions(${target} PRIVATE RMAAT_HAVE_NCCL USE_C10D_NCCL)
    target_include_directories(${target} SYSTEM PRIVATE ${RMAAT_NCCL_INCLUDE})
  endif()
endfunction()
