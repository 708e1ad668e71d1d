#pragma once
// Astromorphic attention on the CPU in two sweeps per head (docs/design.md section 5.3): the maths of
// kernels/astro_attention.hpp, forward and backward, as AVX2 + FMA loops over each (b, h) slice instead
// of some twenty LibTorch ops per direction, each a pass over [B, H, N, m] (bench/RESULTS.md).
//
// Forward, per (b, h), one sweep over the tokens builds
//   A = sum_n (phi(k_n) mask_n + r_n)^T (v_n mask_n)   [m x d_h],   ksum = sum_n phi(k_n) mask_n   [m]
// then H = c A (sigmoid), g = ksum^alpha, and a second sweep writes out_n = phi(q_n) H / (phi(q_n) . g + eps)
// straight into the [B, N, H, d_h] layout the output projection reads (returned as a [B, H, N, d_h] view).
// Backward (dnum = dO / den, P = dnum H^T, dD = -phi(q) . P / den): one sweep for dq, dH and dg; one
// for dk, dv and dR_phi (summed over b). The state saved between them is astro_attention.cpp's: H, ksum,
// g, den. float32 with m = d_h in {16, 32, 64} (the LRA configs) on a CPU with AVX2 and FMA, glibc's
// vector expf (kernels/vector_math.hpp); q, k and v may be strided views (the layer's split of one qkv
// product) with unit stride in the last dim. Everything else takes the LibTorch path.
#include <torch/torch.h>

#include <array>

#include "kernels/astro_attention.hpp"
#include "kernels/cuda_dispatch.hpp"  // AttentionState

namespace rmaat::kernels {

// float32 CPU tensors with m = d_h in {16, 32, 64}, on a CPU with AVX2 and FMA, in a build with libmvec.
bool cpu_attention_applies(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v);

AttentionState cpu_attention_forward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                     const torch::Tensor& mask, const torch::Tensor& R_phi,
                                     const AstroAttentionOptions& opt);

// {dq, dk, dv, dR_phi} (dR_phi undefined without R_phi); `state` from cpu_attention_forward (out unused).
std::array<torch::Tensor, 4> cpu_attention_backward(const torch::Tensor& q, const torch::Tensor& k,
                                                    const torch::Tensor& v, const torch::Tensor& mask,
                                                    const torch::Tensor& R_phi, const torch::Tensor& dout,
                                                    const AttentionState& state, const AstroAttentionOptions& opt);

}  // namespace rmaat::kernels
