#include "trainer/backprop.hpp"

#include <optional>
#include <stdexcept>

#include "trainer/recurrence.hpp"

namespace rmaat::trainer {

namespace {

using torch::Tensor;

// The device type the model's forward runs on (autocast's scope).
c10::DeviceType device_of(const BatchTensors& b) {
    return b.tokens.device().type();
}

BackpropResult bptt(layers::ModelImpl& model, const BatchTensors& b, Precision precision) {
    ModelOutput out;
    torch::Tensor loss;
    {
        AutocastScope autocast(precision, device_of(b));
        out = forward(model, b.tokens, b.mask, b.tokens2, b.mask2);
        loss = torch::nn::functional::cross_entropy(out.logits, b.labels);
    }
    loss.backward();
    return {loss.detach(), out.logits.detach()};
}

// One document under AMRB: the memories entering each segment (no graph) and, with a graph, its
// last segment. u = rest + contribution_{T-1} adds in BPTT's order, so the logits are bit-equal.
struct Document {
    SegmentPlan plan;
    std::vector<Tensor> memory_in;  // mem_t entering segment t = 0..T-1, detached; undefined when M = 0
    Tensor rest;                    // sum of the contributions of segments 0..T-2: a leaf; undefined when T = 1
    Tensor last_in;                 // the memory entering segment T-1 as the graph sees it
    Tensor u;                       // the representation [B, d], with a graph through segment T-1
};

// The memory entering segment t for a replay: a leaf whose .grad is g_t, or for t = 0 the initial
// memory itself, so g_0 flows into the parameter `memory` (summed over the batch by expand).
Tensor memory_input(layers::ModelImpl& model, const Document& d, int64_t t) {
    if (t == 0) return model.initial_memory(d.plan.tokens.size(0));
    const auto& m = d.memory_in[static_cast<size_t>(t)];
    return m.defined() ? m.detach().requires_grad_(true) : m;
}

Document run_forward(layers::ModelImpl& model, const Tensor& tokens, const Tensor& mask,
                     const std::vector<Tensor>& features, int64_t segment_base, Precision precision) {
    AutocastScope autocast(precision, tokens.device().type());
    Document d;
    d.plan = plan_segments(model.options(), tokens, mask, segment_base);
    const int64_t T = d.plan.T;
    {
        torch::NoGradGuard no_graph;
        Tensor mem = model.initial_memory(tokens.size(0)), rest;
        for (int64_t t = 0; t < T; ++t) {
            d.memory_in.push_back(mem.defined() ? mem.detach() : mem);
            if (t == T - 1) break;
            const SegmentStep s = step_segment(model, d.plan, t, mem, features);
            rest = rest.defined() ? rest + s.contribution : s.contribution;
            mem = s.memory;
        }
        if (rest.defined()) d.rest = rest.detach().requires_grad_(true);
    }
    d.last_in = memory_input(model, d, T - 1);
    const SegmentStep s = step_segment(model, d.plan, T - 1, d.last_in, features);
    d.u = d.rest.defined() ? d.rest + s.contribution : s.contribution;
    return d;
}

// Segments T-2 .. 0 after the loss's backward: recompute segment t with a graph (same dropout key),
// back-propagate {contribution_t, mem_{t+1}} with {dL/du, g_{t+1}} in one call, pass g_t on.
void replay(layers::ModelImpl& model, Document d, const std::vector<Tensor>& features, const AmrbFault& fault,
            Precision precision) {
    d.plan.segment_base += fault.replay_segment_shift;
    const int64_t T = d.plan.T;
    if (T < 2) return;
    const Tensor du = d.rest.grad();
    Tensor g = d.last_in.defined() ? d.last_in.grad() : Tensor();
    for (int64_t t = T - 2; t >= 0; --t) {
        const Tensor in = memory_input(model, d, t);
        SegmentStep s;
        {
            AutocastScope autocast(precision, in.defined() ? in.device().type() : d.plan.tokens.device().type());
            s = step_segment(model, d.plan, t, in, features);
        }
        std::vector<Tensor> outputs, grads;
        if (du.defined()) {
            outputs.push_back(s.contribution);
            grads.push_back(du);
        }
        if (s.memory.defined() && g.defined() && !fault.drop_memory_gradient) {
            outputs.push_back(s.memory);
            grads.push_back(g);
        }
        if (!outputs.empty()) torch::autograd::backward(outputs, grads);
        g = t > 0 && in.defined() ? in.grad() : Tensor();
    }
}

}  // namespace

BackpropResult amrb(layers::ModelImpl& model, const BatchTensors& b, const AmrbFault& fault, Precision precision) {
    if (!model.options().recurrent()) return bptt(model, b, precision);  // one step: nothing to replay
    const bool match = model.options().head == layers::Head::match;
    TORCH_CHECK(!match || (b.tokens2.defined() && b.mask2.defined()), "model: head \"match\" needs a second document");
    // phi(P_rel W_R) once; every segment reads the same leaves, whose .grad sums over the replays.
    const auto features = model.astro_features();
    std::vector<Tensor> leaves;
    for (const auto& f : features) leaves.push_back(f.defined() ? f.detach().requires_grad_(true) : f);

    const Document u = run_forward(model, b.tokens, b.mask, leaves, 0, precision);
    std::optional<Document> v;
    if (match)
        v = run_forward(model, b.tokens2, b.mask2, leaves, layers::ModelImpl::kSecondDocumentSegments, precision);
    Tensor logits, loss;
    {
        AutocastScope autocast(precision, device_of(b));
        logits = model.head(u.u, v ? v->u : Tensor());
        loss = torch::nn::functional::cross_entropy(logits, b.labels);
    }
    loss.backward();  // the head, both documents' last segments, dL/du into the leaves `rest`

    replay(model, u, leaves, fault, precision);
    if (v) replay(model, *v, leaves, fault, precision);

    std::vector<Tensor> outputs, grads;  // once through P_rel W_R
    for (size_t i = 0; i < features.size(); ++i) {
        if (!features[i].defined() || !leaves[i].grad().defined()) continue;
        outputs.push_back(features[i]);
        grads.push_back(leaves[i].grad());
    }
    if (!outputs.empty()) torch::autograd::backward(outputs, grads);
    return {loss.detach(), logits.detach()};
}

BackpropResult backprop(layers::ModelImpl& model, const BatchTensors& batch, Backprop method, const StepKey& key,
                        Precision precision) {
    model.set_dropout_step(key.seed, key.step);
    switch (method) {
        case Backprop::bptt: return bptt(model, batch, precision);
        case Backprop::amrb: return amrb(model, batch, {}, precision);
    }
    throw std::logic_error("backprop: unknown method");
}

}  // namespace rmaat::trainer
