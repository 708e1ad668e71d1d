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
#include "trainer/precision.hpp"

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
// training mode for dropout to act. Sets the model's dropout step from `key`; the recurrence sets
// the segment before each segment, so both methods draw the same masks. `precision` bf16 runs the
// forward passes under autocast (trainer/precision.hpp), the backward passes outside it.
BackpropResult backprop(layers::ModelImpl& model, const BatchTensors& batch, Backprop method, const StepKey& key,
                        Precision precision = Precision::fp32);

// AMRB (docs/design.md section 6.1): a graph-free pass through segments 0..T-2 keeping only the
// memories entering each segment, segment T-1 and the head with a graph, then segments T-2..0
// replayed one at a time, each back-propagating {contribution_t, mem_{t+1}} with {dL/du, g_{t+1}}.
// phi(P_rel W_R) is computed once; its gradient, summed over the replays, goes through P_rel W_R
// once at the end. Whole-sequence kinds: BPTT. Uses the dropout step already set on the model.
// `fault` breaks the replay on purpose: the tests' negative control, never set by the trainer.
struct AmrbFault {
    int64_t replay_segment_shift = 0;   // replay under other dropout segment ids than the forward pass
    bool drop_memory_gradient = false;  // pass no g_{t+1} into the replayed segment (truncated BPTT)
};
BackpropResult amrb(layers::ModelImpl& model, const BatchTensors& batch, const AmrbFault& fault = {},
                    Precision precision = Precision::fp32);

}  // namespace rmaat::trainer
