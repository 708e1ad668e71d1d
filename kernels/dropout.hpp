#pragma once
// Counter-based dropout (docs/design.md sections 5.4 and 6.1): the mask is a pure function of a key,
// so AMRB's replay regenerates a segment's masks without saving them or any RNG state, and a
// resumed run draws the same ones.
//
//   y_i = x_i keep_i / (1 - p),   keep_i = [u_i >= p],   u_i = w_i 2^-32 in [0, 1)
//   w_{4j + l} = Philox4x32-10(counter = {j_lo, j_hi, s_lo, s_hi}, key = {seed_lo, seed_hi})[l]
//   s = stream(step, segment, layer, site)   (a 64-bit hash; see dropout.cpp)
//
// i is the element's index in row-major (contiguous) order: one Philox call serves 4 consecutive
// elements. The stream itself (Philox4x32-10, the hash s) is kernels/philox.hpp, shared with the CUDA
// kernels (kernels/cuda/) so both draw the same masks.
//
// The autograd Function saves the key, p and, on the CPU when x needs a gradient, the keep mask as
// bits (1/32 of x in float32): backward is grad_x = grad_y keep / (1 - p) in one pass without a second
// Philox pass; other devices regenerate the mask from the key. CPU tensors take one pass over the data; other devices get the
// same mask drawn on the CPU and copied over, unless the CUDA kernel is built (kernels/cuda/).
#include <torch/torch.h>

#include <array>
#include <cstdint>

namespace rmaat::kernels {

// Names one dropout site in one segment of one optimiser step.
struct DropoutKey {
    uint64_t seed = 0;
    int64_t step = 0;
    int64_t segment = 0;
    int32_t layer = 0;
    int32_t site = 0;
};

using Philox4x32 = std::array<uint32_t, 4>;
// Philox4x32-10 of one counter under one key (the Random123 known-answer tests check it).
Philox4x32 philox4x32_10(Philox4x32 counter, std::array<uint32_t, 2> key);

// The four Philox words of block j of `key`'s stream, those of elements 4j .. 4j + 3: the definition
// above, one block at a time (the vector CPU path and the CUDA kernels are checked against it).
Philox4x32 dropout_block(const DropoutKey& key, uint64_t j);

// y = x keep / (1 - p) with the mask of `key`; identity when p = 0 or !training. x of any floating
// dtype (float, double, bfloat16, half) and device; differentiable in x (twice, too).
torch::Tensor keyed_dropout(const torch::Tensor& x, double p, const DropoutKey& key, bool training = true);

// The keep mask of the first `numel` elements under `key`: a CPU bool tensor of shape [numel].
torch::Tensor dropout_mask(const DropoutKey& key, int64_t numel, double p);

}  // namespace rmaat::kernels
