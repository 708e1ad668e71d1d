// The model layers (docs/design.md section 5.1-5.2): astromorphic attention against independent references (the
// Katharopoulos limit and the full formula with a dense P_rel), the linear-time decay product,
// gradients against central finite differences for every module and model kind, linear cost at
// N = 200000, padding invariance, memory carrying information across segments, and config errors.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "calibration/calibration_reader.hpp"
#include "core/config.hpp"
#include "core/h5_store.hpp"
#include "core/macro_parameters.hpp"
#include "kernels/decay_product.hpp"
#include "layers/attention.hpp"
#include "layers/encoder.hpp"
#include "layers/model.hpp"
#include "layers/model_config.hpp"
#include "tests/catch.hpp"
#include "trainer/backprop.hpp"
#include "trainer/build_model.hpp"
#include "trainer/recurrence.hpp"

using namespace rmaat;
using namespace rmaat::layers;
using rmaat::kernels::decay_product_dense;

namespace {

const std::string dir = RMAAT_BINARY_DIR;

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// A field of /proc/self/status in kB ("VmRSS", "VmHWM").
std::optional<double> status_kb(const std::string& field) {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind(field + ":", 0) == 0) return std::stod(line.substr(field.size() + 1));
    return std::nullopt;
}

// Growth of the RSS high-water mark from construction on; nullopt where the kernel does not let us
// reset the mark (/proc/self/clear_refs).
class PeakRss {
public:
    PeakRss() {
        std::ofstream f("/proc/self/clear_refs");
        if (f) f << "5";
        ok_ = f && f.flush() && (rss0_ = status_kb("VmRSS")).has_value();
    }
    std::optional<double> extra_mib() const {
        const auto hwm = status_kb("VmHWM");
        if (!ok_ || !hwm) return std::nullopt;
        return std::max(0.0, *hwm - *rss0_) / 1024.0;
    }

private:
    bool ok_ = false;
    std::optional<double> rss0_;
};

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
    REQUIRE(a.sizes() == b.sizes());
    return (a - b).abs().max().item<double>();
}

torch::Tensor randn64(at::IntArrayRef shape) {
    return torch::randn(shape, torch::kFloat64);
}

// phi(z) = elu(z) + 1, written independently of the implementation.
torch::Tensor ref_phi(const torch::Tensor& z) {
    return torch::where(z > 0, z + 1, torch::exp(z));
}

// Dense P_rel[i][j] = exp(-|i - j| scale), n x n, float64.
torch::Tensor dense_p_rel(int64_t n, double scale) {
    const auto i = torch::arange(n, torch::kFloat64);
    return torch::exp(-(i.unsqueeze(1) - i.unsqueeze(0)).abs() * scale);
}

// Overwrites every parameter with random values (so that zero-initialised ones, like W_R, matter).
void randomise(torch::nn::Module& m, double sd = 0.5) {
    torch::NoGradGuard ng;
    for (auto& p : m.parameters()) p.copy_(torch::randn_like(p) * sd);
}

// [B, N] bool mask: sample b has real[b] real tokens followed by padding.
torch::Tensor make_mask(int64_t N, const std::vector<int64_t>& real) {
    auto m = torch::zeros({int64_t(real.size()), N}, torch::kBool);
    for (size_t b = 0; b < real.size(); ++b) m[int64_t(b)].slice(0, 0, real[b]).fill_(true);
    return m;
}

// Reference multi-head attention from the module's own projections, straight from docs/design.md section 5.1 (one
// head at a time in matrix form, heads concatenated, output projection):
//   H = c phi(K)^T V [+ c phi(R)^T V], optionally sigmoid(H); g = (sum_n phi(k_n))^alpha;
//   out_n = phi(q_n) H / (phi(q_n) . g + eps); padded rows of phi(K) and V zeroed.
struct Ref {
    double alpha = 1.0;
    double c = 1.0;
    torch::Tensor R_phi;  // [H, N, m] (phi already applied) or undefined: no astro term
    bool sigmoid = false;
    double eps = 1e-6;
};

torch::Tensor split_heads(const torch::Tensor& t, int64_t H) {  // [B, N, H w] -> [B, H, N, w]
    return t.view({t.size(0), t.size(1), H, -1}).permute({0, 2, 1, 3});
}
torch::Tensor merge_heads(const torch::Tensor& t) {  // [B, H, N, w] -> [B, N, H w]
    return t.permute({0, 2, 1, 3}).reshape({t.size(0), t.size(2), -1});
}

torch::Tensor ref_linear_attention(AttentionImpl& att, const torch::Tensor& x, const torch::Tensor& mask,
                                   const Ref& r) {
    torch::NoGradGuard ng;
    const int64_t H = att.options().n_heads;
    auto q = split_heads(att.query(x), H), k = split_heads(att.key(x), H), v = split_heads(att.value(x), H);
    auto fq = ref_phi(q), fk = ref_phi(k);
    if (mask.defined()) {
        const auto keep = mask.to(x.scalar_type()).view({x.size(0), 1, x.size(1), 1});
        fk = fk * keep;
        v = v * keep;
    }
    auto Hm = r.c * torch::matmul(fk.transpose(-1, -2), v);  // [B, H, m, dh]
    if (r.R_phi.defined()) Hm = Hm + r.c * torch::matmul(r.R_phi.transpose(-1, -2).unsqueeze(0), v);
    if (r.sigmoid) Hm = torch::sigmoid(Hm);
    auto g = fk.sum(2, true);  // [B, H, 1, m]
    if (r.alpha != 1.0) g = g.pow(r.alpha);
    const auto out = torch::matmul(fq, Hm) / ((fq * g).sum(-1, true) + r.eps);
    return att.output(merge_heads(out));
}

torch::Tensor ref_softmax_attention(AttentionImpl& att, const torch::Tensor& x, const torch::Tensor& mask) {
    torch::NoGradGuard ng;
    const int64_t H = att.options().n_heads;
    auto q = split_heads(att.query(x), H), k = split_heads(att.key(x), H), v = split_heads(att.value(x), H);
    auto s = torch::matmul(q, k.transpose(-1, -2)) / std::sqrt(double(q.size(-1)));
    if (mask.defined()) s = s.masked_fill(mask.logical_not().view({x.size(0), 1, 1, x.size(1)}), -INFINITY);
    return att.output(merge_heads(torch::matmul(torch::softmax(s, -1), v)));
}

// Gradcheck-style comparison: autograd gradients of `loss_fn` with respect to a few entries of each
// named tensor (the entry of largest |gradient| and `n_random` random ones) against central finite
// differences (loss(p + h) - loss(p - h)) / 2h.
void check_gradients(const std::function<torch::Tensor()>& loss_fn,
                     const std::vector<std::pair<std::string, torch::Tensor>>& wrt, int n_random = 2, double h = 1e-6,
                     double rtol = 1e-5, double atol = 1e-8) {
    std::vector<torch::Tensor> ts;
    for (const auto& p : wrt) ts.push_back(p.second);
    const torch::Tensor loss = loss_fn();
    REQUIRE(loss.scalar_type() == torch::kFloat64);
    const auto grads = torch::autograd::grad({loss}, ts, {}, false, false, /*allow_unused=*/true);
    torch::NoGradGuard ng;
    int checked = 0, nonzero = 0;
    for (size_t i = 0; i < ts.size(); ++i) {
        auto flat = ts[i].view({-1});
        const auto g = grads[i].defined() ? grads[i].reshape({-1}) : torch::zeros_like(flat);
        std::vector<int64_t> idx{g.abs().argmax().item<int64_t>()};
        for (int r = 0; r < n_random; ++r) idx.push_back(torch::randint(flat.numel(), {1}).item<int64_t>());
        for (const int64_t j : idx) {
            const double orig = flat[j].item<double>();
            flat[j].fill_(orig + h);
            const double lp = loss_fn().item<double>();
            flat[j].fill_(orig - h);
            const double lm = loss_fn().item<double>();
            flat[j].fill_(orig);
            const double num = (lp - lm) / (2 * h), ana = g[j].item<double>();
            INFO(wrt[i].first << "[" << j << "]: autograd " << ana << ", finite difference " << num);
            CHECK(std::abs(ana - num) <= rtol * std::max(std::abs(ana), std::abs(num)) + atol);
            ++checked;
            nonzero += std::abs(ana) > 1e-6;
        }
    }
    // Not a vacuous comparison of zeros.
    CHECK(nonzero >= checked / 3);
}

std::vector<std::pair<std::string, torch::Tensor>> named_params(torch::nn::Module& m) {
    std::vector<std::pair<std::string, torch::Tensor>> out;
    for (const auto& p : m.named_parameters()) out.emplace_back(p.key(), p.value());
    return out;
}

AttentionOptions tiny_attention(const std::string& kind, int64_t span) {
    AttentionOptions o;
    o.kind = kAttentionKinds.parse(kind);
    o.d_model = 8;
    o.n_heads = 2;
    o.span = span;
    o.alpha = 0.25;
    o.scale = 0.3;
    o.dropout = 0.0;
    return o;
}

// Tiny model of the test sizes: d_model 8, 2 heads, segment_length 4, memory_tokens 2, max_len 12.
ModelOptions tiny_model(const std::string& kind, int64_t n_layers = 2) {
    ModelOptions o;
    o.kind = kModelKinds.parse(kind);
    o.vocab_size = 11;
    o.n_classes = 3;
    o.d_model = 8;
    o.n_heads = 2;
    o.n_layers = n_layers;
    o.d_ff = 16;
    o.dropout = 0.0;
    o.max_len = 12;
    o.segment_length = 4;
    o.memory_tokens = 2;
    return o;
}

Model make_model(const ModelOptions& o, torch::Dtype dtype = torch::kFloat64) {
    Model m(o, rmaat::fallback_macro_parameters(64));
    m->to(dtype);
    return m;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Attention against independent references
// ---------------------------------------------------------------------------------------------------

TEST_CASE("alpha = 1 without the astro term is Katharopoulos linear attention times c = 1/m, kind linear is c = 1",
          "[layers]") {
    torch::manual_seed(1);
    const int64_t B = 2, N = 9;
    const auto x = randn64({B, N, 16});
    SECTION("astro, alpha = 1, astro_term off") {
        AttentionOptions o;
        o.kind = AttentionKind::astro;
        o.d_model = 16;
        o.n_heads = 2;
        o.span = 12;
        o.alpha = 1.0;
        o.astro_term = false;
        Attention att(o);
        att->to(torch::kFloat64);
        randomise(*att);
        const auto y = att->forward(x);
        Ref r;
        r.c = 1.0 / 8;  // m = d_model / n_heads
        CHECK(max_abs_diff(y, ref_linear_attention(*att, x, {}, r)) < 1e-6);
        // c matters: the same reference with c = 1 differs.
        Ref r1;
        CHECK(max_abs_diff(y, ref_linear_attention(*att, x, {}, r1)) > 1e-3);
    }
    SECTION("kind linear (default alpha and astro_term are ignored)") {
        AttentionOptions o;
        o.kind = AttentionKind::linear;
        o.d_model = 16;
        o.n_heads = 2;
        o.span = 12;
        Attention att(o);
        att->to(torch::kFloat64);
        randomise(*att);
        Ref r;  // c = 1, alpha = 1, no astro term
        CHECK(max_abs_diff(att->forward(x), ref_linear_attention(*att, x, {}, r)) < 1e-6);
        CHECK_FALSE(att->W_R.defined());
    }
}

TEST_CASE(
    "the full astromorphic formula (astro term over the whole span, alpha = 0.25, padding) matches a "
    "dense reference",
    "[layers]") {
    torch::manual_seed(2);
    const int64_t B = 3, N = 8, span = 11, H = 3, m = 5;
    const double scale = 0.3;
    AttentionOptions o;
    o.kind = AttentionKind::astro;
    o.d_model = 12;
    o.n_heads = H;
    o.qk_dim = m;  // m != d_head = 4
    o.span = span;
    o.alpha = 0.25;
    o.scale = scale;
    Attention att(o);
    att->to(torch::kFloat64);
    randomise(*att);
    REQUIRE(att->W_R.sizes() == at::IntArrayRef({H, span, m}));
    const auto x = randn64({B, N, 12});
    const auto mask = make_mask(N, {8, 5, 1});
    // R = rows [0, N) of P_rel(span) W_R(span), formed densely.
    const auto R_full = ref_phi(torch::matmul(dense_p_rel(span, scale), att->W_R.detach()));
    {
        const auto feats = att->astro_features();
        REQUIRE(feats.sizes() == at::IntArrayRef({H, span, m}));
        CHECK(max_abs_diff(feats, R_full) < 1e-12);
    }
    Ref r;
    r.alpha = 0.25;
    r.c = 1.0 / m;
    r.R_phi = R_full.slice(1, 0, N);
    auto compare_real = [&](const torch::Tensor& y, const torch::Tensor& ref) {
        for (int64_t b = 0; b < B; ++b) {
            const int64_t n = mask[b].sum().item<int64_t>();
            INFO("sample " << b << " (" << n << " real tokens)");
            CHECK(max_abs_diff(y[b].slice(0, 0, n), ref[b].slice(0, 0, n)) < 1e-10);
        }
    };
    SECTION("default c = 1/m") {
        const auto ref = ref_linear_attention(*att, x, mask, r);
        compare_real(att->forward(x, mask), ref);
        // The precomputed features (once per optimiser step) give the same result.
        compare_real(att->forward(x, mask, att->astro_features()), ref);
        compare_real(att->forward(x, mask, att->astro_features().detach()), ref);
        // The astro term matters: without it the reference differs.
        Ref no_astro = r;
        no_astro.R_phi = torch::Tensor();
        CHECK(max_abs_diff(ref, ref_linear_attention(*att, x, mask, no_astro)) > 1e-3);
    }
    SECTION("inv_m scales H only, not the denominator") {
        o.inv_m = 0.7;
        Attention att2(o);
        att2->to(torch::kFloat64);
        torch::NoGradGuard ng;
        for (const auto& p : att->named_parameters()) att2->named_parameters()[p.key()].copy_(p.value());
        Ref r2 = r;
        r2.c = 0.7;
        compare_real(att2->forward(x, mask), ref_linear_attention(*att2, x, mask, r2));
    }
    SECTION("sigmoid_on_H: sigmoid of c (phi(K)^T V + phi(R)^T V)") {
        o.sigmoid_on_H = true;
        Attention att2(o);
        att2->to(torch::kFloat64);
        torch::NoGradGuard ng;
        for (const auto& p : att->named_parameters()) att2->named_parameters()[p.key()].copy_(p.value());
        Ref r2 = r;
        r2.sigmoid = true;
        compare_real(att2->forward(x, mask), ref_linear_attention(*att2, x, mask, r2));
    }
    SECTION("softmax kind is scaled dot-product attention with padded keys masked") {
        o.kind = AttentionKind::softmax;
        o.qk_dim = 0;
        Attention sm(o);
        sm->to(torch::kFloat64);
        randomise(*sm);
        compare_real(sm->forward(x, mask), ref_softmax_attention(*sm, x, mask));
    }
}

TEST_CASE(
    "EncoderLayer is residual + LayerNorm + GELU feed-forward, post-LN or pre-LN with a normalised "
    "attention output",
    "[layers]") {
    torch::manual_seed(12);
    const auto x = randn64({2, 6, 8});
    const auto mask = make_mask(6, {6, 4});
    for (const bool pre_ln : {false, true}) {
        INFO((pre_ln ? "pre-LN" : "post-LN"));
        EncoderLayerOptions o;
        o.attention = tiny_attention("astro", 8);
        o.d_ff = 16;
        o.dropout = 0.0;
        o.pre_ln = pre_ln;
        EncoderLayer layer(o);
        layer->to(torch::kFloat64);
        randomise(*layer);
        torch::NoGradGuard ng;
        auto ffn = [&](const torch::Tensor& h) { return layer->ff2(torch::gelu(layer->ff1(h))); };
        torch::Tensor ref;
        if (pre_ln) {
            REQUIRE(!layer->attention_norm.is_empty());
            const auto h = x + layer->attention_norm(layer->attention(layer->norm1(x), mask));
            ref = h + ffn(layer->norm2(h));
        } else {
            const auto h = layer->norm1(x + layer->attention(x, mask));
            ref = layer->norm2(h + ffn(h));
        }
        CHECK(max_abs_diff(layer->forward(x, mask), ref) < 1e-12);
    }
}

TEST_CASE("segment plan: T of the padded length, padding masked, each sample's last real segment", "[layers]") {
    auto o = tiny_model("rmaat", 1);  // segment_length 4, memory_tokens 2, max_len 12
    // L = 10 -> T = 3 (padded to 12); sample 0 full, sample 1 real up to 5 (last real segment 1),
    // sample 2 real only in the first token, sample 3 without a real token.
    const auto tokens = torch::arange(40, torch::kLong).view({4, 10}) % 11;
    const auto mask = make_mask(10, {10, 5, 1, 0});
    const auto plan = rmaat::trainer::plan_segments(o, tokens, mask);
    CHECK(plan.T == 3);
    CHECK(plan.S == 4);
    CHECK(plan.M == 2);
    REQUIRE(plan.tokens.sizes() == at::IntArrayRef({4, 12}));
    CHECK(plan.tokens.narrow(1, 0, 10).equal(tokens));
    CHECK(plan.tokens.narrow(1, 10, 2).eq(0).all().item<bool>());
    CHECK_FALSE(plan.mask.narrow(1, 10, 2).any().item<bool>());
    CHECK(plan.last.equal(torch::tensor({2, 1, 0, -1}, torch::kLong)));
    CHECK(plan.picks(1, torch::kFloat).squeeze(1).equal(torch::tensor({0.f, 1.f, 0.f, 0.f})));
    CHECK(plan.tokens_at(2).sizes() == at::IntArrayRef({4, 4}));
    SECTION("a batch longer than max_len, or a whole-sequence kind, is refused") {
        CHECK_THROWS_WITH(
            rmaat::trainer::plan_segments(o, torch::zeros({1, 13}, torch::kLong), torch::ones({1, 13}, torch::kBool)),
            ContainsSubstring("exceeds max_len"));
        CHECK_THROWS_WITH(rmaat::trainer::plan_segments(tiny_model("at", 1), tokens, mask),
                          ContainsSubstring("has no segments"));
    }
}

TEST_CASE(
    "segment recurrence: [mem_t ; x_t] per segment, retention paper / blend / none with RF(t, T) of the "
    "padded length, head on each sample's last real segment",
    "[layers]") {
    for (const std::string retention : {"paper", "blend", "none"}) {
        DYNAMIC_SECTION(retention) {
            torch::manual_seed(13);
            auto o = tiny_model("rmaat", 2);
            o.retention = kRetentionModes.parse(retention);
            Model model = make_model(o);
            randomise(*model);
            torch::NoGradGuard ng;
            // L = 10: T = 3 segments of 4 (the last one padded to 4 inside the model); sample 1 has 5
            // real tokens (its last real segment is the second), yet T = 3 for both.
            const int64_t B = 2, S = 4, M = 2, T = 3;
            const auto tokens = torch::randint(11, {B, 10}, torch::kLong);
            const auto mask = make_mask(10, {10, 5});
            const auto out = rmaat::trainer::forward(model, tokens, mask);
            REQUIRE(out.memory.size() == size_t(T));
            const auto tok = torch::cat({tokens, torch::zeros({B, 2}, torch::kLong)}, 1);
            const auto msk = torch::cat({mask, torch::zeros({B, 2}, torch::kBool)}, 1);
            const auto features = model->astro_features();
            auto mem = model->initial_memory(B);
            REQUIRE(mem.sizes() == at::IntArrayRef({B, M, 8}));
            std::vector<torch::Tensor> reps;
            for (int64_t t = 0; t < T; ++t) {
                const auto m_t = msk.slice(1, t * S, (t + 1) * S);
                const auto h = model->encode_segment(mem, tok.slice(1, t * S, (t + 1) * S), m_t, features);
                REQUIRE(h.sizes() == at::IntArrayRef({B, M + S, 8}));
                const auto mf = m_t.to(torch::kFloat64).unsqueeze(-1);
                reps.push_back((h.slice(1, M) * mf).sum(1) / mf.sum(1).clamp_min(1.0));
                const auto mem_new = h.slice(1, 0, M);
                const double rf = model->macro().retention(int(t + 1), int(T));
                const auto expected = retention == "paper"   ? rf * mem_new
                                      : retention == "blend" ? rf * mem_new + (1 - rf) * mem
                                                             : mem_new;
                INFO("segment " << t + 1 << ", RF " << rf);
                CHECK(max_abs_diff(out.memory[size_t(t)], expected) < 1e-12);
                mem = out.memory[size_t(t)];
            }
            const auto rep = torch::stack({reps[2][0], reps[1][1]});
            CHECK(max_abs_diff(out.logits, model->classifier(rep)) < 1e-12);
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Decay product
// ---------------------------------------------------------------------------------------------------

TEST_CASE("decay_product equals decay_product_dense, values and gradients", "[layers]") {
    torch::manual_seed(3);
    // The dense reference itself is P_rel W.
    {
        const auto W = randn64({6, 3});
        CHECK(max_abs_diff(decay_product_dense(W, 0.4), torch::matmul(dense_p_rel(6, 0.4), W)) < 1e-13);
    }
    for (const int64_t N : {1, 2, 5, 37, 300})
        for (const int64_t m : {1, 4})
            for (const double scale : {0.05, 0.1, 2.0})
                for (const bool heads : {false, true}) {
                    INFO("N " << N << ", m " << m << ", scale " << scale << (heads ? ", leading dims [2, 3]" : ""));
                    auto W = heads ? randn64({2, 3, N, m}) : randn64({N, m});
                    W.set_requires_grad(true);
                    const auto fast = kernels::decay_product(W, scale);
                    const auto dense = decay_product_dense(W, scale);
                    REQUIRE(fast.sizes() == W.sizes());
                    CHECK(max_abs_diff(fast, dense) < 1e-10 * std::max(1.0, dense.abs().max().item<double>()));
                    const auto G = torch::randn_like(W);
                    const auto gf = torch::autograd::grad({(fast * G).sum()}, {W})[0];
                    const auto gd = torch::autograd::grad({(dense * G).sum()}, {W})[0];
                    CHECK(max_abs_diff(gf, gd) < 1e-10 * std::max(1.0, gd.abs().max().item<double>()));
                }
    // float32 and a non-contiguous input.
    const auto W = torch::randn({4, 50, 3}).transpose(0, 1);  // [50, 4, 3]: decay along dim -2 = 4
    CHECK(max_abs_diff(kernels::decay_product(W, 0.1), decay_product_dense(W, 0.1)) < 1e-5);
    const auto W2 = torch::randn({3, 50}).t();  // [50, 3] non-contiguous
    CHECK(max_abs_diff(kernels::decay_product(W2, 0.1), decay_product_dense(W2, 0.1)) < 1e-4);
}

// ---------------------------------------------------------------------------------------------------
// Gradients against finite differences
// ---------------------------------------------------------------------------------------------------

TEST_CASE("decay_product gradient matches central finite differences", "[layers]") {
    torch::manual_seed(4);
    auto W = randn64({2, 9, 3}).set_requires_grad(true);
    const auto G = randn64({2, 9, 3});
    check_gradients([&] { return (kernels::decay_product(W, 0.2) * G).sum(); }, {{"W", W}}, 6);
}

TEST_CASE("Attention gradients (input and parameters) match central finite differences", "[layers]") {
    struct Case {
        std::string name, kind;
        bool astro_term = true, sigmoid = false;
    };
    const std::vector<Case> cases{{"astro", "astro"},
                                  {"astro, no astro term", "astro", false},
                                  {"astro, sigmoid_on_H", "astro", true, true},
                                  {"linear", "linear"},
                                  {"softmax", "softmax"}};
    for (const auto& c : cases) {
        DYNAMIC_SECTION(c.name) {
            torch::manual_seed(5);
            auto o = tiny_attention(c.kind, 8);
            o.astro_term = c.astro_term;
            o.sigmoid_on_H = c.sigmoid;
            Attention att(o);
            att->to(torch::kFloat64);
            randomise(*att);
            auto x = randn64({2, 6, 8}).set_requires_grad(true);
            const auto mask = make_mask(6, {6, 4});
            const auto w = randn64({2, 6, 8});
            auto wrt = named_params(*att);
            wrt.emplace_back("x", x);
            check_gradients([&] { return (att->forward(x, mask) * w).sum(); }, wrt);
        }
    }
}

TEST_CASE("EncoderLayer gradients match central finite differences (post-LN and pre-LN)", "[layers]") {
    for (const bool pre_ln : {false, true})
        for (const std::string kind : {"astro", "softmax"}) {
            DYNAMIC_SECTION((pre_ln ? "pre-LN " : "post-LN ") << kind) {
                torch::manual_seed(6);
                EncoderLayerOptions o;
                o.attention = tiny_attention(kind, 8);
                o.d_ff = 16;
                o.dropout = 0.0;
                o.pre_ln = pre_ln;
                EncoderLayer layer(o);
                layer->to(torch::kFloat64);
                randomise(*layer);
                auto x = randn64({2, 6, 8}).set_requires_grad(true);
                const auto mask = make_mask(6, {6, 3});
                const auto w = randn64({2, 6, 8});
                auto wrt = named_params(*layer);
                wrt.emplace_back("x", x);
                check_gradients([&] { return (layer->forward(x, mask) * w).sum(); }, wrt);
            }
        }
}

TEST_CASE("Model gradients match central finite differences for every kind", "[layers]") {
    for (const std::string kind : {"rmaat", "rmt", "rlt", "transformer", "at", "linear", "rmaat-match"}) {
        DYNAMIC_SECTION(kind) {
            torch::manual_seed(7);
            const bool match = kind == "rmaat-match";
            auto o = tiny_model(match ? "rmaat" : kind, 2);
            if (match) o.head = Head::match;
            Model model = make_model(o);
            randomise(*model);
            // L = 10: three segments of 4, the last one partial; sample 1 ends in segment 2.
            const auto tokens = torch::randint(o.vocab_size, {2, 10}, torch::kLong);
            const auto mask = make_mask(10, {10, 7});
            const auto tokens2 = torch::randint(o.vocab_size, {2, 9}, torch::kLong);
            const auto mask2 = make_mask(9, {5, 9});
            const auto w = randn64({2, o.n_classes});
            check_gradients(
                [&] {
                    const auto out = match ? rmaat::trainer::forward(model, tokens, mask, tokens2, mask2)
                                           : rmaat::trainer::forward(model, tokens, mask);
                    return (out.logits * w).sum();
                },
                named_params(*model), 1);
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Linear cost
// ---------------------------------------------------------------------------------------------------

TEST_CASE("no N x N tensor on the astromorphic path: forward and backward at N = 200000", "[layers]") {
    // An N x N float tensor would need 160 GB: finishing at all shows there is none, and the growth of
    // the RSS high-water mark (where the kernel lets us reset it) bounds what the pass allocated.
    torch::manual_seed(8);
    const int64_t N = 200000;
    auto o = tiny_attention("astro", N);
    Attention att(o);
    auto x = torch::randn({1, N, 8}).set_requires_grad(true);
    {
        const PeakRss peak;
        const auto y = att->forward(x);
        (y * y).mean().backward();
        REQUIRE(y.sizes() == at::IntArrayRef({1, N, 8}));
        CHECK(torch::isfinite(x.grad()).all().item<bool>());
        CHECK(x.grad().abs().sum().item<double>() > 0);
        REQUIRE(att->W_R.grad().defined());
        CHECK(torch::isfinite(att->W_R.grad()).all().item<bool>());
        if (const auto mib = peak.extra_mib()) {
            INFO("peak extra memory of forward + backward at N = 200000: " << *mib << " MiB");
            CHECK(*mib < 1024.0);  // O(N) activations: tens of MiB; N x N: 152 GiB
        }
    }
    SECTION("an \"at\" model (whole sequence, astromorphic) and an rmaat model with long segments") {
        for (const std::string kind : {"at", "rmaat"}) {
            INFO(kind);
            ModelOptions mo = tiny_model(kind, 1);
            mo.max_len = N;
            mo.segment_length = N / 4;
            Model model = make_model(mo, torch::kFloat32);
            const auto tokens = torch::randint(mo.vocab_size, {1, N}, torch::kLong);
            const auto mask = torch::ones({1, N}, torch::kBool);
            const PeakRss peak;
            const auto out = rmaat::trainer::forward(model, tokens, mask);
            out.logits.square().sum().backward();
            CHECK(torch::isfinite(model->token_embedding->weight.grad()).all().item<bool>());
            if (const auto mib = peak.extra_mib()) {
                INFO("peak extra memory " << *mib << " MiB");
                CHECK(*mib < 2048.0);
            }
        }
    }
    SECTION("the check can fail: softmax attention at the same N cannot allocate its N x N scores") {
        auto so = o;
        so.kind = AttentionKind::softmax;
        Attention sm(so);
        // With overcommit "always" (vm.overcommit_memory = 1) the allocation would succeed and the
        // process would be killed when touching the pages: only run this where the kernel refuses it.
        std::ifstream oc("/proc/sys/vm/overcommit_memory");
        int mode = 0;
        oc >> mode;
        if (mode == 1) {
            WARN("vm.overcommit_memory = 1: skipping the softmax allocation failure check");
            return;
        }
        torch::NoGradGuard ng;
        CHECK_THROWS(sm->forward(x.detach()));
    }
}

// ---------------------------------------------------------------------------------------------------
// Padding
// ---------------------------------------------------------------------------------------------------

TEST_CASE("padded tokens do not change the outputs of real tokens (attention and encoder layer)", "[layers]") {
    torch::manual_seed(9);
    const int64_t B = 2, n = 7, P = 5;
    const auto x = randn64({B, n, 8});
    const auto x_padded = torch::cat({x, 10 * randn64({B, P, 8})}, 1);
    const auto mask = make_mask(n + P, {n, n});
    for (const std::string kind : {"astro", "linear", "softmax"}) {
        INFO(kind);
        Attention att(tiny_attention(kind, n + P));
        att->to(torch::kFloat64);
        randomise(*att);
        torch::NoGradGuard ng;
        const auto ref = att->forward(x);
        CHECK(max_abs_diff(att->forward(x_padded, mask).slice(1, 0, n), ref) < 1e-10);
        CHECK(max_abs_diff(att->forward(x, torch::ones({B, n}, torch::kBool)), ref) < 1e-12);
        for (const bool pre_ln : {false, true}) {
            INFO((pre_ln ? "pre-LN" : "post-LN"));
            EncoderLayerOptions eo;
            eo.attention = tiny_attention(kind, n + P);
            eo.d_ff = 16;
            eo.dropout = 0.0;
            eo.pre_ln = pre_ln;
            EncoderLayer layer(eo);
            layer->to(torch::kFloat64);
            randomise(*layer);
            CHECK(max_abs_diff(layer->forward(x_padded, mask).slice(1, 0, n), layer->forward(x)) < 1e-10);
        }
    }
}

TEST_CASE("the content of padded tokens changes nothing in a model's logits", "[layers]") {
    for (const std::string kind : {"rmaat", "rmaat-blend", "rmt", "rlt", "transformer", "at", "linear"}) {
        DYNAMIC_SECTION(kind) {
            torch::manual_seed(10);
            auto o = tiny_model(kind == "rmaat-blend" ? "rmaat" : kind, 2);
            if (kind == "rmaat-blend") o.retention = Retention::blend;
            Model model = make_model(o);
            randomise(*model);
            model->eval();
            torch::NoGradGuard ng;
            // L = 12 (three segments): sample 0 full, sample 1 ends inside segment 2 (segment 3 all
            // padding), sample 2 ends inside segment 3.
            const auto tokens = torch::randint(11, {3, 12}, torch::kLong);
            const auto mask = make_mask(12, {12, 6, 9});
            auto other = torch::where(mask, tokens, torch::randint(11, {3, 12}, torch::kLong));
            REQUIRE_FALSE(torch::equal(other, tokens));
            const auto a = rmaat::trainer::forward(model, tokens, mask).logits;
            const auto b = rmaat::trainer::forward(model, other, mask).logits;
            CHECK(max_abs_diff(a, b) < 1e-10);
            // ...while the content of real tokens does change them.
            auto changed = tokens.clone();
            changed.index_put_({0, 0}, (tokens.index({0, 0}) + 1) % 11);
            CHECK(max_abs_diff(rmaat::trainer::forward(model, changed, mask).logits.slice(0, 0, 1), a.slice(0, 0, 1)) >
                  1e-8);
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Memory across segments
// ---------------------------------------------------------------------------------------------------

namespace {

// Copy task: two segments of 4 tokens; the class symbol (0..3) sits at a random position of the first
// segment among noise tokens (4..15), the second segment is noise only. With mean pooling the head
// sees the last segment only, so only the memory can carry the label.
struct CopyBatch {
    torch::Tensor tokens, mask, labels;
};

CopyBatch copy_batch(int64_t B, int64_t seg) {
    CopyBatch b;
    b.tokens = torch::randint(4, 16, {B, 2 * seg}, torch::kLong);
    b.labels = torch::randint(0, 4, {B}, torch::kLong);
    const auto pos = torch::randint(0, seg, {B}, torch::kLong);
    b.tokens.index_put_({torch::arange(B, torch::kLong), pos}, b.labels);
    b.mask = torch::ones({B, 2 * seg}, torch::kBool);
    return b;
}

// Trains and returns the accuracy on fresh samples.
double train_copy_task(int64_t memory_tokens, double* seconds,
                       rmaat::trainer::Backprop method = rmaat::trainer::Backprop::bptt) {
    torch::manual_seed(11);
    const int64_t seg = 4;
    ModelOptions o;
    o.kind = ModelKind::rmaat;
    o.vocab_size = 16;
    o.n_classes = 4;
    o.d_model = 32;
    o.n_heads = 2;
    o.n_layers = 1;
    o.d_ff = 64;
    o.dropout = 0.0;
    o.max_len = 2 * seg;
    o.segment_length = seg;
    o.memory_tokens = memory_tokens;
    o.retention = Retention::paper;
    o.pooling = Pooling::mean;
    Model model(o, rmaat::fallback_macro_parameters(64));
    torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(3e-3));
    const auto t0 = std::chrono::steady_clock::now();
    for (int step = 0; step < 300; ++step) {
        const auto b = copy_batch(64, seg);
        opt.zero_grad();
        rmaat::trainer::backprop(*model, {b.tokens, b.mask, {}, {}, b.labels}, method, {11, step});
        opt.step();
    }
    *seconds = seconds_since(t0);
    model->eval();
    torch::NoGradGuard ng;
    const auto b = copy_batch(1000, seg);
    const auto pred = rmaat::trainer::forward(model, b.tokens, b.mask).logits.argmax(-1);
    return pred.eq(b.labels).to(torch::kFloat64).mean().item<double>();
}

}  // namespace

TEST_CASE("memory carries information across segments (copy task), with BPTT and with AMRB", "[layers]") {
    double s_mem = 0, s_none = 0;
    const double acc_mem = train_copy_task(2, &s_mem);
    const double acc_none = train_copy_task(0, &s_none);
    INFO("accuracy with 2 memory tokens " << acc_mem << " (" << s_mem << " s), without memory " << acc_none << " ("
                                          << s_none << " s)");
    CHECK(acc_mem >= 0.9);
    CHECK(acc_none <= 0.5);
    // The same training with AMRB's replayed gradients learns it too.
    double s_amrb = 0;
    const double acc_amrb = train_copy_task(2, &s_amrb, rmaat::trainer::Backprop::amrb);
    INFO("with AMRB: accuracy " << acc_amrb << " (" << s_amrb << " s)");
    CHECK(acc_amrb >= 0.9);
}

// ---------------------------------------------------------------------------------------------------
// Configuration errors
// ---------------------------------------------------------------------------------------------------

namespace {

const char* kTinyModel = R"([model]
kind = "rmaat"
d_model = 8
n_heads = 2
n_layers = 1
d_ff = 16
dropout = 0.0
vocab_size = 11
n_classes = 3
segment_length = 4
memory_tokens = 2
)";

Model model_from(const std::string& extra) {
    const Config c = Config::from_string(std::string(kTinyModel) + extra, "model.toml");
    const ModelConfig mc = read_model_config(c.section("model"));
    c.check_all_used();
    return rmaat::trainer::build_model(mc);
}

// A calibration file with an RF table for T <= n, scale 0.2, alpha 0.5 (what calibration/ writes,
// without running the simulations).
std::string write_fake_calibration(int n) {
    const std::string path = dir + "/layers_fake_calibration.h5";
    std::remove(path.c_str());
    h5::File f = h5::File::create(path);
    const h5::Group g = f.root().group("calibration");
    g.attr("format", std::string("rmaat-calibration"));
    std::vector<double> rf(size_t(n * n), 0.0);
    for (int T = 1; T <= n; ++T)
        for (int t = 1; t <= T; ++t) rf[size_t((T - 1) * n + t - 1)] = 0.01 * T + 0.001 * t;
    g.write("rf", rf, {hsize_t(n), hsize_t(n)}, "1");
    g.write("scale", std::vector<double>{0.2}, {1}, "1/token");
    g.write("alpha", std::vector<double>{0.5}, {1}, "1");
    f.commit();
    return path;
}

}  // namespace

TEST_CASE("bad configurations give clear errors", "[layers]") {
    SECTION("a good one builds") {
        CHECK_NOTHROW(model_from("max_len = 12\n"));
    }
    SECTION("unknown attention kind: the table names the family and the known kinds") {
        CHECK_THROWS_AS(kAttentionKinds.parse("softmx"), rmaat::InputError);
        CHECK_THROWS_WITH(kAttentionKinds.parse("softmx"), ContainsSubstring("unknown attention kind \"softmx\"") &&
                                                               ContainsSubstring("known: astro, linear, softmax"));
    }
    SECTION("unknown model kind") {
        CHECK_THROWS_WITH(kModelKinds.parse("rmat"), ContainsSubstring("model kind \"rmat\"") &&
                                                         ContainsSubstring("rmaat, rmt, rlt, transformer, at, linear"));
        std::string text = kTinyModel;
        text.replace(text.find("\"rmaat\""), 7, "\"rmat\"");
        const Config c = Config::from_string(text, "model.toml");
        CHECK_THROWS_AS(read_model_config(c.section("model")), rmaat::ConfigError);
        CHECK_THROWS_WITH(read_model_config(c.section("model")),
                          ContainsSubstring("model.toml:2") && ContainsSubstring("model.kind") &&
                              ContainsSubstring("\"rmat\"") && ContainsSubstring("\"rmaat\", \"rmt\", \"rlt\""));
    }
    SECTION("n_heads does not divide d_model") {
        auto a = tiny_attention("astro", 8);
        a.n_heads = 3;
        CHECK_THROWS_WITH(a.validate(), ContainsSubstring("n_heads"));
        auto o = tiny_model("rmaat");
        o.n_heads = 3;
        CHECK_THROWS_WITH(o.validate(), ContainsSubstring("n_heads"));
        CHECK_THROWS_WITH(model_from("max_len = 12\nn_heads = 3\n"), ContainsSubstring("n_heads"));
    }
    SECTION("memory_tokens < 0") {
        auto o = tiny_model("rmaat");
        o.memory_tokens = -1;
        CHECK_THROWS_WITH(o.validate(), ContainsSubstring("memory_tokens"));
        CHECK_THROWS_WITH(model_from("max_len = 12\nmemory_tokens = -1\n"), ContainsSubstring("memory_tokens"));
    }
    SECTION("unknown retention mode") {
        CHECK_THROWS_WITH(kRetentionModes.parse("forever"),
                          ContainsSubstring("retention mode") && ContainsSubstring("known: paper, blend, none"));
        CHECK_THROWS_WITH(model_from("max_len = 12\nretention = \"forever\"\n"), ContainsSubstring("retention"));
    }
    SECTION("unknown key in [model]") {
        CHECK_THROWS_WITH(model_from("max_len = 12\nd_modle = 16\n"),
                          ContainsSubstring("unknown key 'model.d_modle'") && ContainsSubstring("d_model"));
    }
    SECTION("a calibration table shorter than the number of segments") {
        const std::string calib = write_fake_calibration(4);
        const std::string line = "calibration = \"" + calib + "\"\n";
        // max_len 20 = 5 segments of 4: the table covers 4.
        CHECK_THROWS_AS(model_from(line + "max_len = 20\n"), rmaat::InputError);
        CHECK_THROWS_WITH(model_from(line + "max_len = 20\n"),
                          ContainsSubstring("covers T <= 4") && ContainsSubstring("5 are needed"));
        // max_len 16 = 4 segments fits; alpha and scale come from the file, unless overridden.
        Model m = model_from(line + "max_len = 16\n");
        CHECK(m->macro().calibrated);
        CHECK_THAT(m->macro().retention(2, 3), WithinAbs(0.032, 1e-12));
        const auto& ao = m->layers->ptr<EncoderLayerImpl>(0)->attention->options();
        CHECK(ao.alpha == 0.5);
        CHECK(ao.scale == 0.2);
        Model m2 = model_from(line + "max_len = 16\nalpha = 0.3\nscale = 0.05\n");
        const auto& ao2 = m2->layers->ptr<EncoderLayerImpl>(0)->attention->options();
        CHECK(ao2.alpha == 0.3);
        CHECK(ao2.scale == 0.05);
        // Not a calibration file at all.
        CHECK_THROWS_AS(model_from("calibration = \"" + dir + "/no_such_calibration.h5\"\nmax_len = 12\n"),
                        calib::CalibrationError);
    }
}

TEST_CASE("parameter names are stable and readable", "[layers]") {
    rmaat::layers::ModelOptions o;
    o.kind = ModelKind::rmaat;
    o.d_model = 8;
    o.n_heads = 2;
    o.n_layers = 2;
    o.d_ff = 16;
    o.max_len = 16;
    o.segment_length = 4;
    o.memory_tokens = 2;
    rmaat::layers::ModelConfig cfg;
    cfg.options = o;
    const auto model = rmaat::trainer::build_model(cfg);
    const auto names = rmaat::layers::parameter_names(model);
    // These become dataset names under /model/params in run files: renaming one breaks old runs.
    for (const char* expected :
         {"token_embedding.weight", "position_embedding.weight", "memory", "layers.0.attention.query.weight",
          "layers.0.attention.key.bias", "layers.0.attention.value.weight", "layers.0.attention.output.weight",
          "layers.0.attention.W_R", "layers.0.norm1.weight", "layers.0.ff1.weight", "layers.1.ff2.bias",
          "layers.1.norm2.bias", "classifier.weight", "classifier.bias"}) {
        INFO(expected);
        CHECK(std::find(names.begin(), names.end(), expected) != names.end());
    }
    for (const auto& n : names) CHECK(n.find('/') == std::string::npos);
    CHECK(names.size() == 2 + 1 + 2 * 17 + 2);  // embeddings, memory, 2 x (6 linears x 2 + W_R + 2 norms x 2), head
}
