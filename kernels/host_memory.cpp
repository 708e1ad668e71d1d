#include "kernels/host_memory.hpp"

#include <cstdlib>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace rmaat::kernels {

void keep_freed_memory() {
#if defined(__GLIBC__)
    if (std::getenv("MALLOC_MMAP_THRESHOLD_") || std::getenv("MALLOC_TRIM_THRESHOLD_")) return;
    mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's maximum on 64-bit (HEAP_MAX_SIZE / 2)
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

}  // namespace rmaat::kernels
