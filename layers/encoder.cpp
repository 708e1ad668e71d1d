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
    drop = register_module("dropout", torch::nn::Dropout(opt.dropout));
}

torch::Tensor EncoderLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& mask, const torch::Tensor& R_phi) {
    auto ffn = [this](const torch::Tensor& h) { return ff2(drop(torch::gelu(ff1(h)))); };
    if (opt_.pre_ln) {
        auto h = x + drop(attention_norm(attention(norm1(x), mask, R_phi)));
        return h + drop(ffn(norm2(h)));
    }
    auto h = norm1(x + drop(attention(x, mask, R_phi)));
    return norm2(h + drop(ffn(h)));
}

}  // namespace rmaat::layers
