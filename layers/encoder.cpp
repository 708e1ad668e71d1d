#include "layers/encoder.hpp"

namespace rmaat::layers {

EncoderLayerImpl::EncoderLayerImpl(const EncoderLayerOptions& opt) : opt_(opt) {
    const int64_t d = opt.attention.d_model;
    attention = register_module("attention", Attention(opt.attention));
    norm1 = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
    norm2 = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
    if (opt.pre_ln)
        attention_norm = register_module("attention_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
    ff1 = register_module("ff1", torch::nn::Linear(d, opt.d_ff));
    ff2 = register_module("ff2", torch::nn::Linear(opt.d_ff, d));
    drop_attention = DropoutSite(opt.dropout, kModelLayer, kAttentionResidual);
    drop_hidden = DropoutSite(opt.dropout, kModelLayer, kFeedForwardHidden);
    drop_ff = DropoutSite(opt.dropout, kModelLayer, kFeedForwardOutput);
}

void EncoderLayerImpl::bind_dropout(std::shared_ptr<const DropoutStep> step, int32_t layer) {
    attention->bind_dropout(step, layer);
    drop_attention.bind(step, layer);
    drop_hidden.bind(step, layer);
    drop_ff.bind(std::move(step), layer);
}

torch::Tensor EncoderLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& mask, const torch::Tensor& R_phi) {
    const bool train = is_training();
    auto ffn = [&](const torch::Tensor& h) { return ff2(drop_hidden.gelu(ff1(h), train)); };
    if (opt_.pre_ln) {
        auto h = x + drop_attention(attention_norm(attention(norm1(x), mask, R_phi)), train);
        return h + drop_ff(ffn(norm2(h)), train);
    }
    auto h = norm1(x + drop_attention(attention(x, mask, R_phi), train));
    return norm2(h + drop_ff(ffn(h), train));
}

}  // namespace rmaat::layers
