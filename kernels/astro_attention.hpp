#pragma once
// The hot path of astromorphic attention (docs/design.md section 5.1), one head per (b, h) slice:
//
//   phi(z)   = elu(z) + 1                      positive feature map
//   H        = c (phi(K)^T V + phi(R)^T V)    [m x d_h]   (the phi(R) term only with the astro term)
//   H        = sigmoid(H)                      optional
//   g        = (sum_n phi(k_n))^alpha          [m]         element-wise power
//   out_n    = phi(q_n) H / (phi(q_n) . g + eps)
//
// Padded tokens have their rows of phi(K) and of V zeroed, so H and g ignore them. Sums run in fp32
// at least (fp64 for double inputs); the output has the dtype of q. Katharopoulos linear attention is
// the case alpha = 1, c = 1, no R.
//
// astro_attention() is the one call layers/ makes: a torch::autograd::Function whose forward and
// hand-written backward are plain LibTorch ops (any device), or, for fp32/bf16/fp16 CUDA tensors in a
// build with them, the CUDA kernels of kernels/cuda/ (kernels/cuda_dispatch.hpp decides), or, for fp32 CPU
// tensors with m = d_h in {16, 32, 64}, the AVX2 loops of kernels/astro_attention_cpu.hpp. It saves only its inputs and
// the small m x d_h state, not the N-sized intermediates autograd would keep. Under autocast (bf16
// training) it takes the cast inputs and still sums in fp32: autocast is off inside. astro_attention_reference() is the same
// maths as plain differentiable ops: the reference the fast paths are tested against.
#include <torch/torch.h>

namespace rmaat::kernels {

struct AstroAttentionOptions {
    double alpha = 0.25;        // exponent of the normaliser g
    double c = 1.0;             // scale of H (1/m by default in the layer); not in the denominator
    double eps = 1e-6;          // added to the denominator
    bool sigmoid_on_H = false;  // sigmoid on c (phi(K)^T V + phi(R)^T V)
};

// q, k [B, H, N, m]; v [B, H, N, d_h]; mask [B, N] bool (true = real) or undefined (all real);
// R_phi = phi(P_rel W_R) [H, >= N, m] (rows [0, N) are used) or undefined (no astro term).
// Returns [B, H, N, d_h] in q's dtype.
torch::Tensor astro_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                              const torch::Tensor& mask, const torch::Tensor& R_phi, const AstroAttentionOptions& opt);

// The same maths as plain differentiable LibTorch ops (the reference).
torch::Tensor astro_attention_reference(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                        const torch::Tensor& mask, const torch::Tensor& R_phi,
                                        const AstroAttentionOptions& opt);

// phi(z) = elu(z) + 1.
torch::Tensor phi(const torch::Tensor& z);

}  // namespace rmaat::kernels
