#include "kernels/threads.hpp"

#include <dlfcn.h>

#include <torch/torch.h>
#include <cstring>

namespace rmaat::kernels {

namespace {

using SetThreads = void (*)(int);

// OpenBLAS's setter, looked up in whatever the process loaded (LibTorch links the BLAS; we do not).
SetThreads openblas_setter() {
    static const SetThreads fn = [] {
        void* sym = dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
        SetThreads f = nullptr;
        static_assert(sizeof f == sizeof sym);
        std::memcpy(&f, &sym, sizeof f);
        return f;
    }();
    return fn;
}

}  // namespace

bool blas_threads_settable() {
    return openblas_setter() != nullptr;
}

int set_compute_threads(int n) {
    if (n > 0) torch::set_num_threads(n);
    if (const SetThreads f = openblas_setter()) f(1);
    return torch::get_num_threads();
}

}  // namespace rmaat::kernels
