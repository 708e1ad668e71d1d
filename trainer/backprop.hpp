#pragma once
// One optimiser step's gradients (docs/design.md section 6.1): the loss of one batch and its
// gradients accumulated into the parameters' .grad, by plain back-propagation through time (BPTT)
// or by AMRB (replay, segment by segment). The trainer calls only backprop(); both methods use the
// segment plan of trainer/recurrence.hpp and must give the same gradients.
//
//   loss = mean over the batch of cross_entropy(logits, labels)
//
// StepKey names the optimiser step so that dropout masks are a function of (seed, step, segment,
// layer, site) alone: AMRB's replay regenerates them and a resumed run draws the same ones.
#include <torch/torch.h>

#include <cstdint>

#include "core/choices.hpp"
#include "layers/model.hpp"

namespace rmaat::trainer {

enum class Backprop { bptt, amrb };
inline constexpr Choice<Backprop> kBackpropRows[] = {
    {Backprop::bptt, "bptt", "back-propagation through time: every segment's graph kept"},
    {Backprop::amrb, "amrb", "astrocytic memory replay: one segment's graph at a time, memories kept"},
};
inline constexpr ChoiceTable kBackprops{"backprop", kBackpropRows};

// One batch as tensors (tasks::Batch -> torch): tokens [B, L] int64, mask [B, L] bool, labels [B]
// int64; tokens2/mask2 the second document of head "match", else undefined.
struct BatchTensors {
    torch::Tensor tokens, mask, tokens2, mask2, labels;
};

struct StepKey {
    uint64_t seed = 0;
    int64_t step = 0;
};

struct BackpropResult {
    torch::Tensor loss;    // scalar, detached
    torch::Tensor logits;  // [B, n_classes], detached
};

// Accumulates d loss / d parameters into .grad (call zero_grad before). The model must be in
// training mode for dropout to act.
BackpropResult backprop(layers::ModelImpl& model, const BatchTensors& batch, Backprop method, const StepKey& key);

}  // namespace rmaat::trainer
