#pragma once
// R = P_rel W_R with P_rel[i][j] = exp(-|i - j| * scale): the position-decay term of astromorphic
// attention (SPEC 5.1). P_rel is a symmetric Toeplitz matrix of powers of r = exp(-scale), so the
// product is two linear scans (forward f_i = W_i + r f_{i-1}, backward b_i = W_i + r b_{i+1},
// R = f + b - W): O(N m) time and memory, never the N x N matrix. Its gradient is the same product
// applied to the incoming gradient (P_rel is symmetric).
#include <torch/torch.h>

namespace rmaat::layers {

// W: [..., N, m] (any leading dims, e.g. heads); returns P_rel W with the decay along dim -2.
// Differentiable with respect to W. CPU tensors are scanned in place; other devices go through a
// CPU copy (N m values: cheap next to the attention itself).
torch::Tensor decay_product(const torch::Tensor& W, double scale);

// The dense reference P_rel W (forms P_rel: for tests on small N only).
torch::Tensor decay_product_dense(const torch::Tensor& W, double scale);

}  // namespace rmaat::layers
