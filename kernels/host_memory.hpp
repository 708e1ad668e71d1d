#pragma once
// Freed host memory kept for reuse (docs/design.md section 6.3).
//
// glibc hands blocks above its mmap threshold (128 KiB at first) straight back to the kernel when they
// are freed, and trims the heap's free top above 128 KiB. A training step allocates and frees the same
// activations segment after segment, so it faulted their pages in again every time: ~840 page faults
// per step of the d_model 64 benchmark model (`perf stat -e page-faults`), a few per cent of the step
// in the kernel's fault handler. keep_freed_memory() sets glibc's mmap threshold to its maximum
// (32 MiB) and the trim threshold to 1 GiB: freed blocks stay in the process and are reused, and the
// steady state faults no page. The peak (VmHWM) is unchanged; what is freed after a peak is kept until
// the process ends. A user's MALLOC_MMAP_THRESHOLD_ or MALLOC_TRIM_THRESHOLD_ wins; other C libraries:
// nothing changes.
namespace rmaat::kernels {

void keep_freed_memory();

}  // namespace rmaat::kernels
