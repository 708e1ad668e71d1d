#include "layers/model.hpp"

#include <stdexcept>

#include <fmt/format.h>

#include "core/error.hpp"

namespace rmaat::layers {

namespace {

// Mean over the real tokens; a sample without one gets zeros.
torch::Tensor mean_real(const torch::Tensor& h, const torch::Tensor& mask) {
    auto mf = mask.to(h.scalar_type()).unsqueeze(-1);
    return (h * mf).sum(1) / mf.sum(1).clamp_min(1.0);
}

}  // namespace

void ModelOptions::validate() const {
    auto fail = [](const std::string& what) { throw std::invalid_argument("model: " + what); };
    if (vocab_size < 1) fail("vocab_size must be >= 1");
    if (n_classes < 2) fail("n_classes must be >= 2");
    if (d_model < 1 || n_heads < 1) fail("d_model and n_heads must be >= 1");
    if (d_model % n_heads != 0) fail(fmt::format("n_heads = {} does not divide d_model = {}", n_heads, d_model));
    if (n_layers < 1) fail("n_layers must be >= 1");
    if (d_ff < 1) fail("d_ff must be >= 1");
    if (!(dropout >= 0 && dropout < 1)) fail("dropout must be in [0, 1)");
    if (max_len < 1) fail("max_len must be >= 1");
    if (segment_length < 1) fail("segment_length must be >= 1");
    if (memory_tokens < 0) fail(fmt::format("memory_tokens (M) = {} must be >= 0", memory_tokens));
    if (recurrent() && pooling == Pooling::cls && memory_tokens == 0)
        fail("pooling \"cls\" of a recurrent model reads the first memory slot: memory_tokens must be >= 1");
    if (qk_dim < 0) fail("qk_dim must be >= 0");
    if (!(inv_m >= 0)) fail("inv_m must be >= 0");
}

ModelImpl::ModelImpl(const ModelOptions& opt, const MacroParameters& macro) : opt_(opt), macro_(macro) {
    opt_.validate();
    const int64_t d = opt_.d_model, M = opt_.memory_tokens;
    if (opt_.kind == ModelKind::rmaat && opt_.retention != Retention::none) {
        const int64_t T = opt_.segments(opt_.max_len);
        if (macro_.T_max() < T)
            throw InputError(
                fmt::format("model: max_len = {} in segments of {} needs RF for T = {} segments, but the table of {} "
                            "covers T <= {}",
                            opt_.max_len, opt_.segment_length, T, macro_.source, macro_.T_max()));
    }
    const bool cls_token = !opt_.recurrent() && opt_.pooling == Pooling::cls;
    token_embedding = register_module("token_embedding", torch::nn::Embedding(opt_.vocab_size, d));
    position_embedding = register_module(
        "position_embedding",
        torch::nn::Embedding(opt_.recurrent() ? opt_.segment_length : opt_.max_len + (cls_token ? 1 : 0), d));
    if (opt_.recurrent() && M > 0) memory = register_parameter("memory", torch::randn({M, d}) * 0.02);
    if (cls_token) cls = register_parameter("cls", torch::randn({1, d}) * 0.02);

    EncoderLayerOptions lo;
    lo.attention.kind = model_kind_info(opt_.kind).attention;
    lo.attention.d_model = d;
    lo.attention.n_heads = opt_.n_heads;
    lo.attention.qk_dim = opt_.qk_dim;
    lo.attention.span = opt_.recurrent() ? M + opt_.segment_length : opt_.max_len + (cls_token ? 1 : 0);
    lo.attention.alpha = macro_.alpha;
    lo.attention.scale = macro_.scale;
    lo.attention.astro_term = opt_.astro_term;
    lo.attention.sigmoid_on_H = opt_.sigmoid_on_H;
    lo.attention.inv_m = opt_.inv_m;
    lo.attention.dropout = opt_.dropout;
    lo.d_ff = opt_.d_ff;
    lo.dropout = opt_.dropout;
    lo.pre_ln = opt_.pre_ln;
    layers = register_module("layers", torch::nn::ModuleList());
    for (int64_t i = 0; i < opt_.n_layers; ++i) {
        EncoderLayer layer(lo);
        layer->bind_dropout(dropout_step_, static_cast<int32_t>(i));
        layers->push_back(layer);
    }
    if (opt_.head == Head::match) match_hidden = register_module("match_hidden", torch::nn::Linear(4 * d, d));
    classifier = register_module("classifier", torch::nn::Linear(d, opt_.n_classes));
    drop_embedding = DropoutSite(opt_.dropout, kModelLayer, kEmbedding);
    drop_classifier = DropoutSite(opt_.dropout, kModelLayer, kClassifierInput);
    drop_embedding.bind(dropout_step_, kModelLayer);
    drop_classifier.bind(dropout_step_, kModelLayer);
}

void ModelImpl::set_dropout_step(uint64_t seed, int64_t step) {
    dropout_step_->seed = seed;
    dropout_step_->step = step;
}

void ModelImpl::set_segment(int64_t segment) {
    dropout_step_->segment = segment;
}

torch::Tensor ModelImpl::initial_memory(int64_t batch) const {
    if (!memory.defined()) return {};
    return memory.unsqueeze(0).expand({batch, memory.size(0), memory.size(1)});
}

std::vector<torch::Tensor> ModelImpl::astro_features() const {
    std::vector<torch::Tensor> f;
    for (const auto& layer : *layers) {
        const auto& attn = layer->as<EncoderLayerImpl>()->attention;
        f.push_back(attn->W_R.defined() && attn->options().astro_term ? attn->astro_features() : torch::Tensor());
    }
    return f;
}

torch::Tensor ModelImpl::run_layers(torch::Tensor h, const torch::Tensor& mask,
                                    const std::vector<torch::Tensor>& features) {
    size_t i = 0;
    for (const auto& layer : *layers) {
        h = layer->as<EncoderLayerImpl>()->forward(h, mask, i < features.size() ? features[i] : torch::Tensor());
        ++i;
    }
    return h;
}

torch::Tensor ModelImpl::encode_segment(const torch::Tensor& mem, const torch::Tensor& tokens,
                                        const torch::Tensor& mask, const std::vector<torch::Tensor>& features) {
    TORCH_CHECK(tokens.dim() == 2 && mask.sizes() == tokens.sizes(), "model: segment tokens and mask must be [B, n]");
    TORCH_CHECK(tokens.size(1) <= opt_.segment_length, "model: segment of ", tokens.size(1),
                " tokens exceeds segment_length ", opt_.segment_length);
    const int64_t B = tokens.size(0), n = tokens.size(1);
    auto pos = torch::arange(n, torch::TensorOptions().dtype(torch::kLong).device(tokens.device()));
    auto h = drop_embedding(token_embedding(tokens) + position_embedding(pos).unsqueeze(0), is_training());
    auto m = mask;
    if (mem.defined()) {
        h = torch::cat({mem.to(h.scalar_type()), h}, 1);
        m = torch::cat({torch::ones({B, mem.size(1)}, mask.options()), mask}, 1);
    }
    return run_layers(h, m, features);
}

torch::Tensor ModelImpl::retain(const torch::Tensor& new_memory, const torch::Tensor& old_memory, int64_t t,
                                int64_t T) const {
    if (opt_.kind != ModelKind::rmaat || opt_.retention == Retention::none) return new_memory;
    const double rf = macro_.retention(static_cast<int>(t), static_cast<int>(T));
    if (opt_.retention == Retention::paper) return new_memory * rf;
    return new_memory * rf + old_memory * (1.0 - rf);  // blend
}

torch::Tensor ModelImpl::pool_segment(const torch::Tensor& out, const torch::Tensor& mask) const {
    if (opt_.pooling == Pooling::cls) return out.select(1, 0);
    const int64_t M = out.size(1) - mask.size(1);
    return mean_real(out.narrow(1, M, mask.size(1)), mask);
}

torch::Tensor ModelImpl::encode_sequence(const torch::Tensor& tokens, const torch::Tensor& mask_in,
                                         const std::vector<torch::Tensor>& features) {
    TORCH_CHECK(tokens.dim() == 2 && mask_in.sizes() == tokens.sizes(), "model: tokens and mask must be [B, L]");
    TORCH_CHECK(tokens.size(1) <= opt_.max_len, "model: input of ", tokens.size(1), " tokens exceeds max_len ",
                opt_.max_len);
    const int64_t B = tokens.size(0), L = tokens.size(1);
    auto pos = torch::arange(L, torch::TensorOptions().dtype(torch::kLong).device(tokens.device()));
    torch::Tensor h, mask = mask_in;
    if (cls.defined()) {
        h = torch::cat({cls.unsqueeze(0).expand({B, 1, cls.size(1)}), token_embedding(tokens)}, 1) +
            position_embedding(torch::arange(L + 1, pos.options())).unsqueeze(0);
        mask = torch::cat({torch::ones({B, 1}, mask_in.options()), mask_in}, 1);
    } else {
        h = token_embedding(tokens) + position_embedding(pos).unsqueeze(0);
    }
    h = run_layers(drop_embedding(h, is_training()), mask, features);
    return cls.defined() ? h.select(1, 0) : mean_real(h, mask);
}

torch::Tensor ModelImpl::head(const torch::Tensor& u, const torch::Tensor& v) {
    if (opt_.head == Head::match) {
        TORCH_CHECK(v.defined(), "model: head \"match\" needs a second document");
        auto z = torch::relu(match_hidden(torch::cat({u, v, u * v, u - v}, 1)));
        return classifier(drop_classifier(z, is_training(), kHeadSegment));
    }
    return classifier(drop_classifier(u, is_training(), kHeadSegment));
}

}  // namespace rmaat::layers
