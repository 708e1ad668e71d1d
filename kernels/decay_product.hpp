#pragma once
// R = P_rel W_R with P_rel[i][j] = exp(-|i - j| * scale): the position-decay term of astromorphic
// attention (docs/design.md section 5.1). P_rel is a symmetric Toeplitz matrix of powers of
// r = exp(-scale), so the product is two linear scans (forward f_i = W_i + r f_{i-1}, backward
// b_i = W_i + r b_{i+1}, R = f + b - W): O(N m) work, never the N x N matrix. Its gradient is the same
// product applied to the incoming gradient (P_rel is symmetric).
//
// decay_product() is the one call layers/ makes; it chooses the implementation by device (the only
// place that asks): CPU tensors are scanned sequentially in place; fp32/fp64 CUDA tensors by the scan
// kernel of kernels/cuda/ when the build has it; others take a log-depth doubling scan of plain
// LibTorch ops on their device (O(N m log N)), never a copy to the CPU.
#include <torch/torch.h>

namespace rmaat::kernels {

// W: [..., N, m] (any leading dims, e.g. heads); returns P_rel W with the decay along dim -2.
// Differentiable with respect to W. Half-precision inputs are scanned in float.
torch::Tensor decay_product(const torch::Tensor& W, double scale);

// The two implementations behind it, callable on any device (tests compare them on the CPU).
torch::Tensor decay_product_sequential(const torch::Tensor& W, double scale);  // CPU tensors only
torch::Tensor decay_product_doubling(const torch::Tensor& W, double scale);    // any device

// The dense reference P_rel W (forms P_rel: for tests on small N only).
torch::Tensor decay_product_dense(const torch::Tensor& W, double scale);

}  // namespace rmaat::kernels
