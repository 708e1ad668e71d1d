#pragma once
// CUDA kernels for the hot path of astromorphic attention (docs/design.md section 5.3): plain C++
// declarations over raw device pointers and sizes, so this header needs neither LibTorch nor the CUDA
// headers, and the .cu files depend on the CUDA runtime only (they compile where LibTorch has no CUDA).
// kernels/astro_attention.cpp, decay_product.cpp and dropout.cpp call them for CUDA tensors.
//
// Per (b, h) slice, the maths of kernels/astro_attention.hpp:
//   S = (phi(K) + phi(R))^T V [m x d_h],  ksum = sum_n phi(k_n) [m]   (masked rows of phi(K), V zeroed)
//   H = c S (sigmoid optional),  g = max(ksum, FLT_MIN)^alpha (ksum when alpha = 1)
//   den_n = phi(q_n) . g + eps,  out_n = phi(q_n) H / den_n
// Inputs q, k [B, H, N, m] and v [B, H, N, d_h] are contiguous, fp32 or bf16; every sum runs in fp32.
// The state (S -> H, ksum, g, den) is fp32. R_phi is fp32 [H, span, m] (rows [0, N) used) or null;
// mask is [B, N] (nonzero = real) or null. Limits: m d_h <= kMaxHeadState (every LRA config's heads fit).
//
// Every call checks its launches (cudaGetLastError) and throws std::runtime_error naming the kernel and
// the CUDA error; none synchronises with the host. `stream` is a cudaStream_t (nullptr: the default).
#include <cstdint>

#include "kernels/philox.hpp"

namespace rmaat::kernels::cuda {

enum class DType { f32, bf16, f16, f64 };

inline constexpr int64_t kMaxHeadState = 4096;  // m d_h: one thread block holds H in shared memory

struct AttentionShape {
    int64_t B = 0, H = 0, N = 0, m = 0, dh = 0, span = 0;
};

struct AttentionScalars {
    float alpha = 0.25f, c = 1.f, eps = 1e-6f;
    bool sigmoid_on_H = false;
};

// Whether the kernels take this shape on the current device (sizes, launch limits, shared memory);
// the callers fall back to LibTorch ops otherwise. astro_forward/astro_backward throw on the same.
bool attention_supported(const AttentionShape& shape);

// Forward: writes out [B, H, N, d_h] (dtype of q) and the fp32 state Hs [B, H, m, d_h], ksum, g
// [B, H, m], den [B, H, N]. S is accumulated into Hs (zeroed here) and turned into H in place.
void astro_forward(DType dtype, const void* q, const void* k, const void* v, const bool* mask, const float* R_phi,
                   const AttentionShape& shape, const AttentionScalars& sc, void* out, float* Hs, float* ksum, float* g,
                   float* den, void* stream);

// Backward from dout [B, H, N, d_h]: dq, dk, dv (dtype of q) and dR_phi [H, span, m] fp32 (rows >= N
// zero; nullptr when R_phi is null). `work` holds B H m (d_h + 1) floats of scratch.
void astro_backward(DType dtype, const void* q, const void* k, const void* v, const bool* mask, const float* R_phi,
                    const void* dout, const float* Hs, const float* ksum, const float* g, const float* den,
                    const AttentionShape& shape, const AttentionScalars& sc, void* dq, void* dk, void* dv,
                    float* dR_phi, float* work, void* stream);

// out = P_rel W with P_rel[i][j] = r^|i - j| for G blocks of N x m values (kernels/decay_product.hpp):
// one thread per column, a forward and a backward scan. fp32 (dtype f32) or fp64 (f64).
void decay_product(DType dtype, const void* W, void* out, int64_t G, int64_t N, int64_t m, double r, void* stream);

// y = x keep / (1 - p) with keep from `s` (kernels/philox.hpp): the CPU path's masks, bit for bit.
// x, y contiguous of `numel` elements, any floating dtype.
void keyed_dropout(DType dtype, const void* x, void* y, int64_t numel, const DropoutStream& s, double scale,
                   void* stream);

}  // namespace rmaat::kernels::cuda
