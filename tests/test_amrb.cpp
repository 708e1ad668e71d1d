// Counter-based dropout (kernels/dropout.hpp) and AMRB (trainer/backprop.hpp, docs/design.md section
// 6.1): Philox4x32-10 against the Random123 known answers; the mask's fraction, scale, keys and
// gradient; AMRB's gradients against BPTT's with dropout on, over model kinds, retention modes, heads,
// segment counts and padding, and a broken replay that the comparison catches.
#include <torch/torch.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/macro_parameters.hpp"
#include "kernels/astro_attention.hpp"
#include "kernels/dropout.hpp"
#include "kernels/gelu_dropout.hpp"
#include "layers/model.hpp"
#include "tests/catch.hpp"
#include "trainer/backprop.hpp"
#include "trainer/recurrence.hpp"

using namespace rmaat;
using rmaat::kernels::dropout_block;
using rmaat::kernels::dropout_mask;
using rmaat::kernels::DropoutKey;
using rmaat::kernels::keyed_dropout;

namespace {

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
    REQUIRE(a.sizes() == b.sizes());
    return (a - b).abs().max().item<double>();
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Dropout
// ---------------------------------------------------------------------------------------------------

TEST_CASE("philox4x32-10 gives the Random123 known answers", "[kernels]") {
    using kernels::philox4x32_10;
    using P = kernels::Philox4x32;
    CHECK(philox4x32_10({0, 0, 0, 0}, {0, 0}) == P{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u});
    CHECK(philox4x32_10({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, {0xffffffffu, 0xffffffffu}) ==
          P{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu});
    CHECK(philox4x32_10({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, {0xa4093822u, 0x299f31d0u}) ==
          P{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u});
}

TEST_CASE("keyed dropout masks follow their definition, block by block", "[kernels]") {
    // keep_i = [w_i >= ceil(p 2^32)], w_{4j + l} = Philox block j, word l: the vectorised CPU path (16
    // blocks per call) against the scalar definition, at sizes that end inside a block and a call.
    for (const int64_t n : {1, 5, 63, 64, 65, 1000, 4099}) {
        for (const double p : {0.1, 0.5}) {
            INFO("n = " << n << ", p = " << p);
            const DropoutKey key{0x123456789ull, 5, 2, 1, 3};
            const auto m = dropout_mask(key, n, p);
            const auto threshold = static_cast<uint64_t>(std::ceil(std::ldexp(p, 32)));
            const bool* mp = m.data_ptr<bool>();
            int64_t wrong = 0;
            for (int64_t i = 0; i < n; ++i)
                wrong += mp[i] != (dropout_block(key, static_cast<uint64_t>(i / 4))[i % 4] >= threshold);
            CHECK(wrong == 0);
        }
    }
}

TEST_CASE("keyed dropout keeps 1 - p of the elements and preserves the mean", "[kernels]") {
    const int64_t n = 1'000'000;
    for (const double p : {0.1, 0.5}) {
        INFO("p = " << p);
        const DropoutKey key{42, 3, 1, 0, 2};
        const double kept = dropout_mask(key, n, p).sum().item<double>();
        const double sigma = std::sqrt(n * p * (1 - p));
        CHECK(std::abs(kept - n * (1 - p)) < 4 * sigma);
        const auto y = keyed_dropout(torch::ones({n}, torch::kFloat64), p, key);
        // Every element is 0 or 1 / (1 - p); the mean is kept / (n (1 - p)), 1 within 4 sigma.
        CHECK(((y == 0) | ((y - 1 / (1 - p)).abs() < 1e-12)).all().item<bool>());
        CHECK(std::abs(y.mean().item<double>() - 1) < 4 * sigma / (n * (1 - p)));
        CHECK(y.sum().item<double>() == Approx(kept / (1 - p)).epsilon(1e-12));
    }
}

TEST_CASE("keyed dropout masks depend on the key alone", "[kernels]") {
    const int64_t n = 4099;  // not a multiple of 4: the last Philox call is partial
    const double p = 0.3;
    const DropoutKey key{7, 11, 2, 1, 3};
    const auto m = dropout_mask(key, n, p);
    CHECK(torch::equal(m, dropout_mask(key, n, p)));
    // A prefix of a longer mask: element i depends on i, not on the size.
    CHECK(torch::equal(m, dropout_mask(key, 2 * n, p).narrow(0, 0, n)));
    auto differs = [&](DropoutKey k) { return !torch::equal(m, dropout_mask(k, n, p)); };
    DropoutKey k = key;
    k.seed = 8;
    CHECK(differs(k));
    k = key;
    k.seed = key.seed + (uint64_t{1} << 32);  // the seed's high word counts
    CHECK(differs(k));
    k = key;
    k.step = 12;
    CHECK(differs(k));
    k = key;
    k.segment = 3;
    CHECK(differs(k));
    k = key;
    k.segment = key.segment + layers::ModelImpl::kSecondDocumentSegments;
    CHECK(differs(k));
    k = key;
    k.layer = 2;
    CHECK(differs(k));
    k = key;
    k.site = 0;
    CHECK(differs(k));
    // The forward pass applies that mask, in every floating dtype and for non-contiguous input.
    const auto x = torch::randn({n}, torch::kFloat64);
    CHECK(max_abs_diff(keyed_dropout(x, p, key), x * m.to(torch::kFloat64) / (1 - p)) < 1e-15);
    for (const auto dtype : {torch::kFloat32, torch::kBFloat16, torch::kHalf}) {
        INFO(dtype);
        const auto xd = x.to(dtype);
        const auto ref = (xd.to(torch::kFloat32) * m.to(torch::kFloat32) * static_cast<float>(1 / (1 - p))).to(dtype);
        CHECK(torch::equal(keyed_dropout(xd, p, key), ref));
    }
    const auto x2 = torch::randn({40, 30}, torch::kFloat64).t();  // [30, 40], non-contiguous
    REQUIRE_FALSE(x2.is_contiguous());
    const auto ref2 = x2.contiguous() * dropout_mask(key, x2.numel(), p).view({30, 40}).to(torch::kFloat64) / (1 - p);
    CHECK(max_abs_diff(keyed_dropout(x2, p, key), ref2) < 1e-15);
    // p = 0 and evaluation: identity.
    CHECK(keyed_dropout(x, 0.0, key).is_same(x));
    CHECK(keyed_dropout(x, p, key, false).is_same(x));
    CHECK_THROWS(keyed_dropout(x, 1.0, key));
}

TEST_CASE("keyed dropout's backward applies the forward's mask", "[kernels]") {
    const double p = 0.25;
    const DropoutKey key{1, 2, 3, 4, 5};
    // The keep bits saved by the forward (64-element chunks, 8-wide vector body): tails of every length.
    for (const int64_t n : {1, 7, 8, 9, 63, 64, 65, 1000, 4099}) {
        for (const auto dtype : {torch::kFloat32, torch::kFloat64, torch::kBFloat16}) {
            INFO("n = " << n << ", dtype " << dtype);
            const auto xn = torch::randn({n}, dtype).requires_grad_(true);
            const auto gn = torch::randn({n}, dtype);
            keyed_dropout(xn, 0.5, key).backward(gn);
            const auto keep = dropout_mask(key, n, 0.5);
            const auto want = (gn.to(torch::kFloat64) * keep.to(torch::kFloat64) * 2.0).to(dtype);
            CHECK(torch::equal(xn.grad(), want));
        }
    }
    const auto x = torch::randn({5, 7, 3}, torch::kFloat64).requires_grad_(true);
    const auto g = torch::randn({5, 7, 3}, torch::kFloat64);
    keyed_dropout(x, p, key).backward(g);
    const auto mask = dropout_mask(key, x.numel(), p).view({5, 7, 3}).to(torch::kFloat64);
    CHECK(max_abs_diff(x.grad(), g * mask / (1 - p)) < 1e-15);
    // Twice differentiable: d/dg of <x.grad, w> is the mask again.
    const auto x3 = x.detach().clone().requires_grad_(true);
    const auto gg = torch::randn_like(x3).requires_grad_(true);
    const auto y3 = keyed_dropout(x3, p, key);
    const auto grad = torch::autograd::grad({y3}, {x3}, {gg}, true, true)[0];
    const auto w = torch::randn_like(grad);
    (grad * w).sum().backward();
    CHECK(max_abs_diff(gg.grad(), w * mask / (1 - p)) < 1e-15);
}

TEST_CASE("gelu + dropout in one pass equals the two ops composed, forward and backward", "[kernels]") {
    using rmaat::kernels::gelu_dropout;
    const DropoutKey key{4, 7, 2, 1, 2};
    // 64-element chunks and an 8-wide vector body: sizes with tails of every length.
    for (const int64_t n : {1, 7, 8, 63, 64, 65, 1000, 4099}) {
        INFO("n = " << n);
        for (const double p : {0.1, 0.5}) {
            for (const auto dtype : {torch::kFloat64, torch::kFloat32}) {
                const double tol = dtype == torch::kFloat64 ? 1e-14 : 3e-6;
                const auto x0 = (3 * torch::randn({n}, torch::kFloat64)).to(dtype);
                const auto g = torch::randn({n}, torch::kFloat64).to(dtype);
                const auto x1 = x0.clone().requires_grad_(true), x2 = x0.clone().requires_grad_(true);
                const auto fused = gelu_dropout(x1, p, key);
                const auto composed = keyed_dropout(torch::gelu(x2), p, key);
                CHECK(max_abs_diff(fused.to(torch::kFloat64), composed.to(torch::kFloat64)) < tol);
                // the key's dropped elements are exact zeros (x * 0)
                const auto dropped = dropout_mask(key, n, p).logical_not();
                CHECK(fused.detach().masked_select(dropped).eq(0).all().item<bool>());
                fused.backward(g);
                composed.backward(g);
                CHECK(max_abs_diff(x1.grad().to(torch::kFloat64), x2.grad().to(torch::kFloat64)) < tol);
            }
        }
    }
    // The fused backward against the formula, and twice differentiable (the composition under a graph).
    const auto x = torch::randn({5, 9}, torch::kFloat64).requires_grad_(true);
    const auto gg = torch::randn({5, 9}, torch::kFloat64).requires_grad_(true);
    const auto y = gelu_dropout(x, 0.3, key);
    const auto dx = torch::autograd::grad({y}, {x}, {gg}, true, true)[0];
    const auto mask = dropout_mask(key, x.numel(), 0.3).view({5, 9}).to(torch::kFloat64) / 0.7;
    const auto xd = x.detach();
    const auto slope =
        0.5 * (1 + torch::erf(xd / std::sqrt(2.0))) + xd * torch::exp(-0.5 * xd * xd) / std::sqrt(2 * M_PI);
    CHECK(max_abs_diff(dx.detach(), gg.detach() * mask * slope) < 1e-14);
    const auto w = torch::randn_like(dx);
    (dx * w).sum().backward();
    CHECK(max_abs_diff(gg.grad(), w * mask * slope) < 1e-14);
    // p = 0 or eval: plain GELU; non-finite inputs stay visible where kept
    const auto z = torch::randn({100}, torch::kFloat32);
    CHECK(torch::equal(gelu_dropout(z, 0.0, key), torch::gelu(z)));
    CHECK(torch::equal(gelu_dropout(z, 0.4, key, false), torch::gelu(z)));
    auto nan_in = torch::full({64}, std::nan(""), torch::kFloat32);
    CHECK(gelu_dropout(nan_in, 0.4, key).isnan().all().item<bool>());
    CHECK_THROWS(gelu_dropout(z, 1.0, key));
}

TEST_CASE("keyed dropout on another device draws the CPU mask", "[kernels]") {
    if (!torch::cuda::is_available()) {
        WARN("no CUDA device: skipped");
        return;
    }
    const DropoutKey key{9, 8, 7, 6, 5};
    const auto x = torch::randn({3, 1001}, torch::kFloat32);
    const auto y = keyed_dropout(x.cuda(), 0.2, key).cpu();
    CHECK(torch::equal(y, keyed_dropout(x, 0.2, key)));
}

// ---------------------------------------------------------------------------------------------------
// AMRB against BPTT
// ---------------------------------------------------------------------------------------------------

namespace {

using layers::Head;
using layers::Model;
using layers::ModelOptions;
using layers::Retention;

struct Case {
    std::string kind;
    Retention retention;
    Head head;
};

ModelOptions amrb_model(const Case& c) {
    ModelOptions o;
    o.kind = layers::kModelKinds.parse(c.kind);
    o.retention = c.retention;
    o.head = c.head;
    o.vocab_size = 11;
    o.n_classes = 3;
    o.d_model = 8;
    o.n_heads = 2;
    o.n_layers = 2;
    o.d_ff = 16;
    o.dropout = 0.1;
    o.max_len = 20;
    o.segment_length = 4;
    o.memory_tokens = 2;
    return o;
}

Model make_trained_like_model(const ModelOptions& o) {
    Model m(o, fallback_macro_parameters(64));
    m->to(torch::kFloat64);
    // Away from the initialisation, so every parameter has a sizeable gradient.
    torch::NoGradGuard ng;
    for (auto& p : m->parameters()) p.add_(torch::randn_like(p) * 0.2);
    m->train();
    return m;
}

// B = 4 samples of length L = T * 4: full, half, one token, none (last real segments differ).
torch::Tensor lengths_mask(int64_t L, std::vector<int64_t> lens) {
    auto mask = torch::zeros({static_cast<int64_t>(lens.size()), L}, torch::kBool);
    for (size_t b = 0; b < lens.size(); ++b) mask[static_cast<int64_t>(b)].narrow(0, 0, lens[b]).fill_(true);
    return mask;
}

trainer::BatchTensors make_batch(const ModelOptions& o, int64_t T) {
    const int64_t L = T * o.segment_length;
    trainer::BatchTensors b;
    b.tokens = torch::randint(o.vocab_size, {4, L}, torch::kLong);
    b.mask = lengths_mask(L, {L, (L + 1) / 2, 1, 0});
    b.labels = torch::tensor({0, 1, 2, 1}, torch::kLong);
    if (o.head == Head::match) {
        b.tokens2 = torch::randint(o.vocab_size, {4, L}, torch::kLong);
        b.mask2 = lengths_mask(L, {L / 3 + 1, L, 0, 2});
    }
    return b;
}

struct Grads {
    std::vector<std::string> names;
    std::vector<torch::Tensor> values;
    torch::Tensor loss, logits;
};

Grads gradients(Model& model, const trainer::BatchTensors& b, trainer::Backprop method, const trainer::StepKey& key,
                const trainer::AmrbFault* fault = nullptr, trainer::Precision precision = trainer::Precision::fp32) {
    model->zero_grad();
    trainer::BackpropResult r;
    if (fault) {
        model->set_dropout_step(key.seed, key.step);
        r = trainer::amrb(*model, b, *fault);
    } else {
        r = trainer::backprop(*model, b, method, key, precision);
    }
    Grads g{{}, {}, r.loss, r.logits};
    for (const auto& item : model->named_parameters()) {
        g.names.push_back(item.key());
        const auto& grad = item.value().grad();
        g.values.push_back(grad.defined() ? grad.clone() : torch::zeros_like(item.value()));
    }
    return g;
}

// The largest over parameters of max |a - b| / max |a| (absolute where a is all zero).
double worst_relative(const Grads& a, const Grads& b, std::string* where) {
    double worst = 0;
    for (size_t i = 0; i < a.values.size(); ++i) {
        const double scale = a.values[i].abs().max().item<double>();
        const double diff = max_abs_diff(a.values[i], b.values[i]);
        const double rel = scale > 0 ? diff / scale : diff;
        if (rel > worst) {
            worst = rel;
            *where = a.names[i];
        }
    }
    return worst;
}

}  // namespace

TEST_CASE("AMRB gives BPTT's gradients with dropout on", "[layers]") {
    const std::vector<Case> cases = {
        {"rmaat", Retention::paper, Head::classify}, {"rmaat", Retention::blend, Head::classify},
        {"rmaat", Retention::paper, Head::match},    {"rmaat", Retention::blend, Head::match},
        {"rmt", Retention::none, Head::classify},    {"rmt", Retention::none, Head::match},
        {"rlt", Retention::none, Head::classify},    {"rlt", Retention::none, Head::match},
        {"at", Retention::none, Head::classify},     {"transformer", Retention::none, Head::match},
    };
    const trainer::StepKey key{1234, 7};
    for (const auto& c : cases) {
        for (const int64_t T : {1, 3, 5}) {
            const std::string name = c.kind + " " + layers::kRetentionModes.name(c.retention) + " " +
                                     layers::kHeads.name(c.head) + " T=" + std::to_string(T);
            DYNAMIC_SECTION(name) {
                torch::manual_seed(100 + T);
                Model model = make_trained_like_model(amrb_model(c));
                const auto batch = make_batch(model->options(), T);
                const Grads bptt = gradients(model, batch, trainer::Backprop::bptt, key);
                const Grads amrb = gradients(model, batch, trainer::Backprop::amrb, key);
                CHECK(max_abs_diff(bptt.logits, amrb.logits) < 1e-12);
                CHECK(bptt.loss.item<double>() == Approx(amrb.loss.item<double>()).epsilon(1e-12));
                std::string where;
                const double rel = worst_relative(bptt, amrb, &where);
                INFO("worst parameter " << where << ": " << rel);
                CHECK(rel < 1e-10);
                // Dropout acts: another step draws other masks, so other gradients.
                const Grads other = gradients(model, batch, trainer::Backprop::bptt, {1234, 8});
                CHECK(worst_relative(bptt, other, &where) > 1e-3);
            }
        }
    }
}

TEST_CASE("a broken replay gives gradients the comparison catches", "[layers]") {
    const trainer::StepKey key{99, 3};
    for (const auto& c : {Case{"rmaat", Retention::blend, Head::classify}, Case{"rmt", Retention::none, Head::match}}) {
        DYNAMIC_SECTION(c.kind) {
            torch::manual_seed(5);
            Model model = make_trained_like_model(amrb_model(c));
            const auto batch = make_batch(model->options(), 3);
            const Grads bptt = gradients(model, batch, trainer::Backprop::bptt, key);
            std::string where;
            trainer::AmrbFault shifted;
            shifted.replay_segment_shift = 1;  // the replay draws other dropout masks
            CHECK(worst_relative(bptt, gradients(model, batch, trainer::Backprop::amrb, key, &shifted), &where) > 1e-3);
            trainer::AmrbFault truncated;
            truncated.drop_memory_gradient = true;  // no gradient through the memory
            CHECK(worst_relative(bptt, gradients(model, batch, trainer::Backprop::amrb, key, &truncated), &where) >
                  1e-3);
            // Without a fault the same hook is AMRB itself.
            const trainer::AmrbFault none;
            CHECK(worst_relative(bptt, gradients(model, batch, trainer::Backprop::amrb, key, &none), &where) < 1e-10);
        }
    }
}

TEST_CASE("the model's dropout follows the key the trainer sets", "[layers]") {
    torch::manual_seed(3);
    Model model = make_trained_like_model(amrb_model({"rmaat", Retention::paper, Head::classify}));
    const auto batch = make_batch(model->options(), 3);
    auto logits = [&](uint64_t seed, int64_t step) {
        model->set_dropout_step(seed, step);
        torch::NoGradGuard ng;
        return trainer::forward(model, batch.tokens, batch.mask).logits;
    };
    const auto a = logits(1, 1);
    CHECK(torch::equal(a, logits(1, 1)));  // nothing drawn from a global generator
    CHECK(max_abs_diff(a, logits(1, 2)) > 1e-6);
    CHECK(max_abs_diff(a, logits(2, 1)) > 1e-6);
    model->eval();
    CHECK(torch::equal(logits(1, 1), logits(2, 2)));  // evaluation: no dropout
}

TEST_CASE("bf16 autocast: the forward's products in bf16, fp32 gradients close to fp32's, AMRB equal to BPTT",
          "[layers]") {
    using trainer::AutocastScope;
    using trainer::Precision;
    // The scope: linear layers in bf16 inside, fp32 after; the state before is restored; fp32 does nothing.
    const auto x = torch::randn({3, 5}), w = torch::randn({4, 5});
    {
        AutocastScope fp32(Precision::fp32, torch::kCPU);
        CHECK(torch::linear(x, w).scalar_type() == torch::kFloat);
    }
    {
        AutocastScope outer(Precision::bf16, torch::kCPU);
        CHECK(torch::linear(x, w).scalar_type() == torch::kBFloat16);
        {
            AutocastScope inner(Precision::bf16, torch::kCPU);
            CHECK(torch::linear(x, w).scalar_type() == torch::kBFloat16);
        }
        CHECK(torch::linear(x, w).scalar_type() == torch::kBFloat16);  // the inner scope left the outer's state
    }
    CHECK(torch::linear(x, w).scalar_type() == torch::kFloat);
    // astro_attention turns autocast off inside: fp32 inputs give the fp32 result, bit for bit.
    const auto q = torch::randn({2, 2, 6, 4}), k = torch::randn({2, 2, 6, 4}), v = torch::randn({2, 2, 6, 4});
    const auto R = torch::rand({2, 8, 4}) + 0.1;
    const auto plain = kernels::astro_attention(q, k, v, {}, R, {});
    {
        AutocastScope bf16(Precision::bf16, torch::kCPU);
        CHECK(torch::equal(kernels::astro_attention(q, k, v, {}, R, {}), plain));
    }

    // A training step: bf16 changes the gradients by bf16 rounding only, they stay fp32, and AMRB's
    // replay (under the same autocast) gives BPTT's.
    for (const auto& c : {Case{"rmaat", Retention::paper, Head::classify}, Case{"rmt", Retention::none, Head::match}}) {
        DYNAMIC_SECTION(c.kind) {
            torch::manual_seed(7);
            Model model = make_trained_like_model(amrb_model(c));
            model->to(torch::kFloat32);
            const auto batch = make_batch(model->options(), 3);
            const trainer::StepKey key{5, 2};
            auto grads = [&](trainer::Backprop method, Precision precision) {
                return gradients(model, batch, method, key, nullptr, precision);
            };
            Grads fp32 = grads(trainer::Backprop::bptt, Precision::fp32);
            Grads bptt = grads(trainer::Backprop::bptt, Precision::bf16);
            Grads amrb = grads(trainer::Backprop::amrb, Precision::bf16);
            // Softmax attention's key bias has an exact gradient of zero (softmax ignores a constant
            // added to every score): rounding noise only, in any precision. Left out of the comparison.
            for (Grads* g : {&fp32, &bptt, &amrb})
                for (size_t i = 0; i < g->names.size(); ++i)
                    if (c.kind != "rmaat" && g->names[i].find("attention.key.bias") != std::string::npos)
                        g->values[i].zero_();
            for (const auto& g : bptt.values) CHECK(g.scalar_type() == torch::kFloat32);
            std::string where;
            const double vs_fp32 = worst_relative(fp32, bptt, &where);
            INFO("bf16 vs fp32, worst parameter " << where << ": " << vs_fp32);
            CHECK(vs_fp32 > 1e-4);  // autocast acted
            CHECK(vs_fp32 < 0.1);
            CHECK(std::isfinite(bptt.loss.item<double>()));
            const double replay = worst_relative(bptt, amrb, &where);
            INFO("AMRB vs BPTT in bf16, worst parameter " << where << ": " << replay);
            CHECK(replay < 1e-4);
        }
    }
}
