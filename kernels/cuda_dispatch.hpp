#pragma once
// The bridge from LibTorch tensors to the raw-pointer CUDA kernels of kernels/cuda/ (docs/design.md
// section 5.3): which tensors they serve, and the calls with shapes, dtypes, streams and scratch
// handled. Built with RMAAT_HAVE_CUDA (a CUDA-enabled LibTorch and nvcc, cmake/cuda.cmake); otherwise
// every `*_applies` is false and the LibTorch paths serve all devices. astro_attention.cpp,
// decay_product.cpp and dropout.cpp are the only callers.
#include <torch/torch.h>

#include <array>

#include "kernels/astro_attention.hpp"
#include "kernels/philox.hpp"

namespace rmaat::kernels {

// True when this build has the CUDA kernels.
bool cuda_kernels_built();

// CUDA tensors of one dtype among fp32, bf16 and fp16, head sizes within the kernels' limits.
bool cuda_attention_applies(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v);

struct AttentionState {
    torch::Tensor out, H, ksum, g, den;  // out in q's dtype; the rest fp32 as on the CPU path
};
AttentionState cuda_attention_forward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                      const torch::Tensor& mask, const torch::Tensor& R_phi,
                                      const AstroAttentionOptions& opt);
// {dq, dk, dv, dR_phi} (dR_phi undefined without R_phi).
std::array<torch::Tensor, 4> cuda_attention_backward(const torch::Tensor& q, const torch::Tensor& k,
                                                     const torch::Tensor& v, const torch::Tensor& mask,
                                                     const torch::Tensor& R_phi, const torch::Tensor& dout,
                                                     const AttentionState& state, const AstroAttentionOptions& opt);

// W on CUDA, fp32 or fp64: P_rel W along dim -2 by the scan kernel.
bool cuda_decay_applies(const torch::Tensor& W);
torch::Tensor cuda_decay_product(const torch::Tensor& W, double scale);

// x on CUDA, any floating dtype: y = x keep / (1 - p) with the stream's masks.
bool cuda_dropout_applies(const torch::Tensor& x);
torch::Tensor cuda_keyed_dropout(const torch::Tensor& x, const DropoutStream& s, double scale);

// LibTorch's CUDA caching allocator on device `index`: the peak of allocated bytes since the last reset
// (torch.cuda.max_memory_allocated), and that reset. -1 and nothing in a build without CUDA.
int64_t cuda_max_memory_allocated(int index);
void cuda_reset_max_memory_allocated(int index);

}  // namespace rmaat::kernels
