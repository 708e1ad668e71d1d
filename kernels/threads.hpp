#pragma once
// Compute threads on the CPU (docs/design.md section 6.3): LibTorch's intra-op pool and the BLAS's own.
//
// Debian's LibTorch runs its matrix products in OpenBLAS (libopenblas0-pthread), which keeps a pool of
// its own: one thread per core, spinning in sched_yield between calls. Beside torch's pool that asks for
// twice the cores; on the 2-core machine torch at 2 threads with OpenBLAS at 2 made a training step 1.6x
// slower than with OpenBLAS at 1, and a 1-thread run borrowed the second core for its products
// (bench/RESULTS.md, "Threads"). So `n` threads means n cores: torch's pool gets n, OpenBLAS 1.
namespace rmaat::kernels {

// Sets torch's intra-op threads to n (n <= 0: leaves torch's default) and the BLAS to one thread.
// Returns the torch thread count in effect.
int set_compute_threads(int n);

// Whether the BLAS in this process exposes a thread setting (OpenBLAS); without one (reference BLAS,
// MKL via torch's own setting) set_compute_threads sets torch's pool only.
bool blas_threads_settable();

}  // namespace rmaat::kernels
