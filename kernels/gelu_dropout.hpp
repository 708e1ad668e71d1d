#pragma once
// GELU followed by the keyed dropout in one pass (docs/design.md section 5.4): the feed-forward
// sublayer's hidden activation, ff2(dropout(gelu(ff1(h)))).
//
//   y  = gelu(x) keep / (1 - p),          gelu(x) = x Phi(x) = x (1 + erf(x / sqrt 2)) / 2   (exact GELU)
//   dx = dy keep / (1 - p) gelu'(x),      gelu'(x) = Phi(x) + x exp(-x^2 / 2) / sqrt(2 pi)
//
// keep is the mask of keyed_dropout (kernels/dropout.hpp) under the same key, so the result equals
// keyed_dropout(torch::gelu(x), p, key) to float rounding, and AMRB's replay draws the same masks.
// Saves x and the keep mask as bits (1/32 of x): backward applies them in the same pass as gelu'(x),
// without a second Philox pass. On an AVX2 CPU
// float32 runs 8 elements per step through glibc's vector erff/expf (libmvec); other dtypes and CPUs
// the scalar formula; other devices the two ops composed. p = 0 or !training: torch::gelu(x).
#include <torch/torch.h>

#include "kernels/dropout.hpp"

namespace rmaat::kernels {

torch::Tensor gelu_dropout(const torch::Tensor& x, double p, const DropoutKey& key, bool training = true);

}  // namespace rmaat::kernels
