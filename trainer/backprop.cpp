#include "trainer/backprop.hpp"

#include "trainer/recurrence.hpp"

namespace rmaat::trainer {

namespace {

BackpropResult bptt(layers::ModelImpl& model, const BatchTensors& b) {
    const ModelOutput out = forward(model, b.tokens, b.mask, b.tokens2, b.mask2);
    const auto loss = torch::nn::functional::cross_entropy(out.logits, b.labels);
    loss.backward();
    return {loss.detach(), out.logits.detach()};
}

}  // namespace

BackpropResult backprop(layers::ModelImpl& model, const BatchTensors& batch, Backprop method, const StepKey&) {
    switch (method) {
        case Backprop::bptt: return bptt(model, batch);
        case Backprop::amrb: break;
    }
    throw std::logic_error("backprop: AMRB is not implemented yet");
}

}  // namespace rmaat::trainer
