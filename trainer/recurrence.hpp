#pragma once
// The segment recurrence of the memory models (docs/design.md section 5.2), owned by the trainer so
// that BPTT and AMRB (section 6.1) share one plan and one step:
//
//   T = ceil(L / S) segments of S tokens for a padded batch of length L (T, and with it RF(t, T),
//   follows the padded length); the batch is padded to T S with masked tokens;
//   segment t (0-based) sees [mem_t ; x_t]; mem_{t+1} = retain(mem'_{t+1}, mem_t, t + 1, T);
//   each sample's representation comes from its last segment that holds a real token (a sample with
//   no real token at all gets a zero representation).
//
// The model itself runs one segment (layers/model.hpp). Whole-sequence kinds take one step over
// the whole input.
#include <torch/torch.h>

#include <vector>

#include "layers/model.hpp"

namespace rmaat::trainer {

struct SegmentPlan {
    int64_t T = 0;  // number of segments
    int64_t S = 0;  // segment length (tokens)
    int64_t M = 0;  // memory tokens
    torch::Tensor tokens, mask;  // [B, T S], padded with masked zeros
    torch::Tensor last;          // [B] int64: the last segment holding a real token, -1 when none

    torch::Tensor tokens_at(int64_t t) const { return tokens.narrow(1, t * S, S); }
    torch::Tensor mask_at(int64_t t) const { return mask.narrow(1, t * S, S); }
    // 1 for the samples whose representation segment t gives, else 0: [B, 1] in `dtype`.
    torch::Tensor picks(int64_t t, torch::ScalarType dtype) const;
};

// tokens [B, L] int64, mask [B, L] bool, L <= max_len; for recurrent kinds only.
SegmentPlan plan_segments(const layers::ModelOptions& opt, const torch::Tensor& tokens, const torch::Tensor& mask);

// One segment step: the model's output for [mem_t ; x_t], the representation it contributes (zero
// for the samples whose last real segment is another one), and mem_{t+1} after retention.
struct SegmentStep {
    torch::Tensor out;          // [B, M + S, d]
    torch::Tensor contribution;  // [B, d]
    torch::Tensor memory;       // [B, M, d]; undefined when M = 0
};
SegmentStep step_segment(layers::ModelImpl& model, const SegmentPlan& plan, int64_t t, const torch::Tensor& memory,
                         const std::vector<torch::Tensor>& features);

// The representation [B, d] of one document through the whole recurrence (with a graph when grad
// mode is on: plain BPTT), or the whole-sequence encoder for the other kinds. `memories`, when
// given, receives mem_1 .. mem_T (after retention).
torch::Tensor encode(layers::ModelImpl& model, const torch::Tensor& tokens, const torch::Tensor& mask,
                     const std::vector<torch::Tensor>& features, std::vector<torch::Tensor>* memories = nullptr);

struct ModelOutput {
    torch::Tensor logits;               // [B, n_classes]
    std::vector<torch::Tensor> memory;  // mem_1 .. mem_T of the first document (recurrent kinds)
};

// Logits of one batch (tokens2/mask2: the second document of head "match").
ModelOutput forward(layers::ModelImpl& model, const torch::Tensor& tokens, const torch::Tensor& mask,
                    const torch::Tensor& tokens2 = {}, const torch::Tensor& mask2 = {});
inline ModelOutput forward(layers::Model& model, const torch::Tensor& tokens, const torch::Tensor& mask,
                           const torch::Tensor& tokens2 = {}, const torch::Tensor& mask2 = {}) {
    return forward(*model, tokens, mask, tokens2, mask2);
}

}  // namespace rmaat::trainer
