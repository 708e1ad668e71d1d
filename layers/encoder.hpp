#pragma once
// Transformer encoder layer around any attention kind: residual, LayerNorm, feed-forward (GELU),
// residual, LayerNorm (post-LN as in the predecessor; pre-LN selectable). With pre-LN the attention
// output is normalised too, since with alpha < 1 it grows roughly as N^(1 - alpha) / m (docs/design.md section 5.1).
#include <torch/torch.h>

#include "layers/attention.hpp"

namespace rmaat::layers {

struct EncoderLayerOptions {
    AttentionOptions attention;
    int64_t d_ff = 512;
    double dropout = 0.1;
    bool pre_ln = false;
};

class EncoderLayerImpl : public torch::nn::Module {
public:
    explicit EncoderLayerImpl(const EncoderLayerOptions& opt);
    torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask = {}, const torch::Tensor& R_phi = {});
    // Shares the model's dropout step with this layer's sites (and its attention's); `layer`: its index.
    void bind_dropout(std::shared_ptr<const DropoutStep> step, int32_t layer);

    Attention attention{nullptr};
    torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr}, attention_norm{nullptr};
    torch::nn::Linear ff1{nullptr}, ff2{nullptr};

private:
    // Keyed dropout sites (layers/dropout_site.hpp), each with its own mask.
    DropoutSite drop_attention, drop_hidden, drop_ff;
    EncoderLayerOptions opt_;
};
TORCH_MODULE(EncoderLayer);

}  // namespace rmaat::layers
