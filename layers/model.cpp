#include "layers/model.hpp"

#include <stdexcept>

#include <fmt/format.h>

namespace rmaat::layers {

namespace {

const char* attention_kind(const std::string& model_kind) {
    if (model_kind == "rmaat" || model_kind == "at") return "astro";
    if (model_kind == "rmt" || model_kind == "transformer") return "softmax";
    return "linear";  // rlt, linear
}

bool one_of(const std::string& v, std::initializer_list<const char*> choices) {
    for (const char* c : choices)
        if (v == c) return true;
    return false;
}

}  // namespace

void ModelOptions::validate() const {
    auto fail = [](const std::string& what) { throw std::invalid_argument("model: " + what); };
    if (!one_of(kind, {"rmaat", "rmt", "rlt", "transformer", "at", "linear"}))
        fail(fmt::format("unknown kind \"{}\" (rmaat, rmt, rlt, transformer, at, linear)", kind));
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
    if (!one_of(retention, {"paper", "blend", "none"}))
        fail(fmt::format("unknown retention \"{}\" (paper, blend, none)", retention));
    if (!one_of(pooling, {"mean", "cls"})) fail(fmt::format("unknown pooling \"{}\" (mean, cls)", pooling));
    if (!one_of(head, {"classify", "match"})) fail(fmt::format("unknown head \"{}\" (classify, match)", head));
    if (recurrent() && pooling == "cls" && memory_tokens == 0)
        fail("pooling \"cls\" of a recurrent model reads the first memory slot: memory_tokens must be >= 1");
    if (qk_dim < 0) fail("qk_dim must be >= 0");
    if (!(inv_m >= 0)) fail("inv_m must be >= 0");
}

ModelImpl::ModelImpl(const ModelOptions& opt, const calib::MacroParameters& macro) : opt_(opt), macro_(macro) {
    opt_.validate();
    const int64_t d = opt_.d_model, M = opt_.memory_tokens;
    if (opt_.kind == "rmaat" && opt_.retention != "none") {
        const int64_t T = opt_.segments(opt_.max_len);
        if (macro_.T_max() < T)
            throw calib::CalibrationError(
                fmt::format("model: max_len = {} in segments of {} needs RF for T = {} segments, but the table of {} "
                            "covers T <= {}",
                            opt_.max_len, opt_.segment_length, T, macro_.source, macro_.T_max()));
    }
    const bool cls_token = !opt_.recurrent() && opt_.pooling == "cls";
    token_embedding = register_module("token_embedding", torch::nn::Embedding(opt_.vocab_size, d));
    position_embedding = register_module(
        "position_embedding",
        torch::nn::Embedding(opt_.recurrent() ? opt_.segment_length : opt_.max_len + (cls_token ? 1 : 0), d));
    if (opt_.recurrent() && M > 0) memory = register_parameter("memory", torch::randn({M, d}) * 0.02);
    if (cls_token) cls = register_parameter("cls", torch::randn({1, d}) * 0.02);

    EncoderLayerOptions lo;
    lo.attention.kind = attention_kind(opt_.kind);
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
    for (int64_t i = 0; i < opt_.n_layers; ++i) layers->push_back(EncoderLayer(lo));
    if (opt_.head == "match") match_hidden = register_module("match_hidden", torch::nn::Linear(4 * d, d));
    classifier = register_module("classifier", torch::nn::Linear(d, opt_.n_classes));
    drop = register_module("dropout", torch::nn::Dropout(opt_.dropout));
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
    const int64_t B = tokens.size(0), n = tokens.size(1);
    auto pos = torch::arange(n, torch::TensorOptions().dtype(torch::kLong).device(tokens.device()));
    auto h = drop(token_embedding(tokens) + position_embedding(pos).unsqueeze(0));
    auto m = mask;
    if (mem.defined()) {
        h = torch::cat({mem.to(h.scalar_type()), h}, 1);
        m = torch::cat({torch::ones({B, mem.size(1)}, mask.options()), mask}, 1);
    }
    return run_layers(h, m, features);
}

torch::Tensor ModelImpl::retain(const torch::Tensor& new_memory, const torch::Tensor& old_memory, int64_t t,
                                int64_t T) const {
    if (opt_.kind != "rmaat" || opt_.retention == "none") return new_memory;
    const double rf = macro_.retention(static_cast<int>(t), static_cast<int>(T));
    if (opt_.retention == "paper") return new_memory * rf;
    return new_memory * rf + old_memory * (1.0 - rf);  // blend
}

torch::Tensor ModelImpl::encode(const torch::Tensor& tokens_in, const torch::Tensor& mask_in,
                                std::vector<torch::Tensor>* memories) {
    TORCH_CHECK(tokens_in.dim() == 2 && mask_in.sizes() == tokens_in.sizes(), "model: tokens and mask must be [B, L]");
    TORCH_CHECK(tokens_in.size(1) <= opt_.max_len, "model: input of ", tokens_in.size(1), " tokens exceeds max_len ",
                opt_.max_len);
    const int64_t B = tokens_in.size(0);
    const auto features = astro_features();  // once per forward: depends on parameters only
    auto mean_real = [](const torch::Tensor& h, const torch::Tensor& mask) {
        auto mf = mask.to(h.scalar_type()).unsqueeze(-1);
        return (h * mf).sum(1) / mf.sum(1).clamp_min(1.0);
    };
    if (!opt_.recurrent()) {
        const int64_t L = tokens_in.size(1);
        auto pos = torch::arange(L, torch::TensorOptions().dtype(torch::kLong).device(tokens_in.device()));
        torch::Tensor h, mask = mask_in;
        if (cls.defined()) {
            h = torch::cat({cls.unsqueeze(0).expand({B, 1, cls.size(1)}), token_embedding(tokens_in)}, 1) +
                position_embedding(torch::arange(L + 1, pos.options())).unsqueeze(0);
            mask = torch::cat({torch::ones({B, 1}, mask_in.options()), mask_in}, 1);
        } else {
            h = token_embedding(tokens_in) + position_embedding(pos).unsqueeze(0);
        }
        h = run_layers(drop(h), mask, features);
        return cls.defined() ? h.select(1, 0) : mean_real(h, mask);
    }
    // Segment recurrence over the padded length: T follows the padded batch (SPEC 5.2).
    const int64_t S = opt_.segment_length, M = opt_.memory_tokens;
    const int64_t T = opt_.segments(tokens_in.size(1)), L = T * S;
    auto tokens = torch::zeros({B, L}, tokens_in.options());
    auto mask = torch::zeros({B, L}, mask_in.options());
    tokens.narrow(1, 0, tokens_in.size(1)).copy_(tokens_in);
    mask.narrow(1, 0, mask_in.size(1)).copy_(mask_in);
    // Each sample's last segment that holds a real token gives its representation.
    auto has_real = mask.view({B, T, S}).any(2);  // [B, T]
    auto t_index = torch::arange(T, torch::TensorOptions().dtype(torch::kLong).device(mask.device()));
    auto last = std::get<0>((has_real.to(torch::kLong) * (t_index + 1)).max(1)) - 1;  // [B], -1: no real token
    torch::Tensor mem = initial_memory(B), rep;
    for (int64_t t = 0; t < T; ++t) {
        auto tok_t = tokens.narrow(1, t * S, S), mask_t = mask.narrow(1, t * S, S);
        auto out = encode_segment(mem, tok_t, mask_t, features);
        auto seg_rep = opt_.pooling == "cls" ? out.select(1, 0) : mean_real(out.narrow(1, M, S), mask_t);
        auto pick = (last == t).to(seg_rep.scalar_type()).unsqueeze(1);
        rep = rep.defined() ? rep + seg_rep * pick : seg_rep * pick;
        if (M > 0) {
            mem = retain(out.narrow(1, 0, M), mem, t + 1, T);
            if (memories) memories->push_back(mem);
        }
    }
    return rep;
}

ModelOutput ModelImpl::forward(const torch::Tensor& tokens, const torch::Tensor& mask, const torch::Tensor& tokens2,
                               const torch::Tensor& mask2) {
    ModelOutput out;
    auto u = encode(tokens, mask, &out.memory);
    if (opt_.head == "match") {
        TORCH_CHECK(tokens2.defined() && mask2.defined(), "model: head \"match\" needs a second document");
        auto v = encode(tokens2, mask2);
        auto z = torch::relu(match_hidden(torch::cat({u, v, u * v, u - v}, 1)));
        out.logits = classifier(drop(z));
    } else {
        out.logits = classifier(drop(u));
    }
    return out;
}

}  // namespace rmaat::layers
