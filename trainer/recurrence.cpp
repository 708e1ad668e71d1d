#include "trainer/recurrence.hpp"

namespace rmaat::trainer {

torch::Tensor SegmentPlan::picks(int64_t t, torch::ScalarType dtype) const {
    return (last == t).to(dtype).unsqueeze(1);
}

SegmentPlan plan_segments(const layers::ModelOptions& opt, const torch::Tensor& tokens_in, const torch::Tensor& mask_in,
                          int64_t segment_base) {
    TORCH_CHECK(opt.recurrent(), "plan_segments: model kind \"", layers::kModelKinds.name(opt.kind),
                "\" has no segments");
    TORCH_CHECK(tokens_in.dim() == 2 && mask_in.sizes() == tokens_in.sizes(), "model: tokens and mask must be [B, L]");
    TORCH_CHECK(tokens_in.size(1) <= opt.max_len, "model: input of ", tokens_in.size(1), " tokens exceeds max_len ",
                opt.max_len);
    SegmentPlan p;
    p.S = opt.segment_length;
    p.M = opt.memory_tokens;
    p.segment_base = segment_base;
    p.T = opt.segments(tokens_in.size(1));
    const int64_t B = tokens_in.size(0), L = p.T * p.S;
    p.tokens = torch::zeros({B, L}, tokens_in.options());
    p.mask = torch::zeros({B, L}, mask_in.options().dtype(torch::kBool));
    p.tokens.narrow(1, 0, tokens_in.size(1)).copy_(tokens_in);
    p.mask.narrow(1, 0, mask_in.size(1)).copy_(mask_in);
    const auto has_real = p.mask.view({B, p.T, p.S}).any(2);  // [B, T]
    const auto t_index = torch::arange(p.T, torch::TensorOptions().dtype(torch::kLong).device(p.mask.device()));
    p.last = std::get<0>((has_real.to(torch::kLong) * (t_index + 1)).max(1)) - 1;
    return p;
}

SegmentStep step_segment(layers::ModelImpl& model, const SegmentPlan& plan, int64_t t, const torch::Tensor& memory,
                         const std::vector<torch::Tensor>& features) {
    SegmentStep s;
    model.set_segment(plan.segment_base + t);
    const auto mask_t = plan.mask_at(t);
    s.out = model.encode_segment(memory, plan.tokens_at(t), mask_t, features);
    const auto rep = model.pool_segment(s.out, mask_t);
    s.contribution = rep * plan.picks(t, rep.scalar_type());
    if (plan.M > 0) s.memory = model.retain(s.out.narrow(1, 0, plan.M), memory, t + 1, plan.T);
    return s;
}

torch::Tensor encode(layers::ModelImpl& model, const torch::Tensor& tokens, const torch::Tensor& mask,
                     const std::vector<torch::Tensor>& features, std::vector<torch::Tensor>* memories,
                     int64_t segment_base) {
    if (!model.options().recurrent()) {
        model.set_segment(segment_base);
        return model.encode_sequence(tokens, mask, features);
    }
    const SegmentPlan plan = plan_segments(model.options(), tokens, mask, segment_base);
    torch::Tensor memory = model.initial_memory(tokens.size(0)), rep;
    for (int64_t t = 0; t < plan.T; ++t) {
        SegmentStep s = step_segment(model, plan, t, memory, features);
        rep = rep.defined() ? rep + s.contribution : s.contribution;
        memory = s.memory;
        if (memories && memory.defined()) memories->push_back(memory);
    }
    return rep;
}

ModelOutput forward(layers::ModelImpl& model, const torch::Tensor& tokens, const torch::Tensor& mask,
                    const torch::Tensor& tokens2, const torch::Tensor& mask2) {
    const auto features = model.astro_features();  // once per step: depends on parameters only
    ModelOutput out;
    const auto u = encode(model, tokens, mask, features, &out.memory);
    torch::Tensor v;
    if (model.options().head == layers::Head::match) {
        TORCH_CHECK(tokens2.defined() && mask2.defined(), "model: head \"match\" needs a second document");
        v = encode(model, tokens2, mask2, features, nullptr, layers::ModelImpl::kSecondDocumentSegments);
    }
    out.logits = model.head(u, v);
    return out;
}

}  // namespace rmaat::trainer
