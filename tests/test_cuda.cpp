// kernels/cuda/ on the GPU (ctest label gpu; built only with a CUDA-enabled LibTorch, cmake/cuda.cmake):
// every kernel against the CPU path on fresh random inputs, outputs poisoned with NaN before the raw
// calls so an element left unwritten fails, odd sizes, padding masks, gradients, fp32 and bf16;
// dropout masks bit for bit the CPU's; AMRB against BPTT on the GPU.
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/astro_attention.hpp"
#include "kernels/cuda/cuda_kernels.hpp"
#include "kernels/cuda_dispatch.hpp"
#include "kernels/decay_product.hpp"
#include "kernels/dropout.hpp"
#include "tests/catch.hpp"
#if RMAAT_TEST_TRAINER  // the full build; the kernels-only build (RMAAT_KERNELS_ONLY) has no trainer
#include "core/macro_parameters.hpp"
#include "layers/model.hpp"
#include "trainer/backprop.hpp"
#endif

using namespace rmaat;
using namespace rmaat::kernels;

namespace {

const torch::Device kGpu(torch::kCUDA, 0);

// max |a - b| / max(max |b|, tiny): one relative figure per tensor.
double rel_err(const torch::Tensor& a, const torch::Tensor& b) {
    const auto A = a.to(torch::kCPU, torch::kDouble), B = b.to(torch::kCPU, torch::kDouble);
    const double scale = std::max(B.abs().max().item<double>(), 1e-30);
    return (A - B).abs().max().item<double>() / scale;
}

bool all_finite(const torch::Tensor& t) {
    return torch::isfinite(t.to(torch::kCPU, torch::kFloat)).all().item<bool>();
}

struct Shape {
    int64_t B, H, N, m, dh;
    bool masked, astro_term;
};

const std::vector<Shape> kShapes = {
    {1, 1, 1, 8, 8, false, true},     {2, 3, 33, 16, 16, true, true},   {2, 4, 257, 32, 32, true, true},
    {1, 2, 1000, 64, 64, true, true}, {3, 2, 129, 16, 32, true, false}, {2, 8, 515, 8, 16, false, true},
};

struct Inputs {
    torch::Tensor q, k, v, mask, R;
};

Inputs random_inputs(const Shape& s, uint64_t seed) {
    torch::manual_seed(seed);
    Inputs in;
    in.q = torch::randn({s.B, s.H, s.N, s.m});
    in.k = torch::randn({s.B, s.H, s.N, s.m});
    in.v = torch::randn({s.B, s.H, s.N, s.dh});
    if (s.masked) {  // every sample keeps at least one real token; the last ones are padding
        in.mask = torch::ones({s.B, s.N}, torch::kBool);
        for (int64_t b = 0; b < s.B; ++b) {
            const int64_t pad = std::min<int64_t>(s.N - 1, b == s.B - 1 ? s.N / 2 : 3 * b);
            if (pad > 0) in.mask[b].narrow(0, s.N - pad, pad).fill_(false);
        }
    }
    if (s.astro_term) in.R = phi(decay_product(torch::randn({s.H, s.N + 5, s.m}) * 0.1, 0.1));
    return in;
}

std::string name(const Shape& s) {
    return "B" + std::to_string(s.B) + " H" + std::to_string(s.H) + " N" + std::to_string(s.N) + " m" +
           std::to_string(s.m) + " dh" + std::to_string(s.dh) + (s.masked ? " masked" : "") +
           (s.astro_term ? " astro" : "");
}

torch::Tensor gpu(const torch::Tensor& t, torch::ScalarType dtype) {
    return t.defined() ? t.to(kGpu, t.is_floating_point() ? dtype : t.scalar_type()) : t;
}

}  // namespace

TEST_CASE("the CUDA attention forward writes every output and matches the CPU path", "[gpu]") {
    REQUIRE(torch::cuda::is_available());
    REQUIRE(cuda_kernels_built());
    const AstroAttentionOptions opt{0.55, 1.0 / 16, 1e-6, false};
    for (const auto& s : kShapes) {
        for (const auto dtype : {torch::kFloat, torch::kBFloat16}) {
            DYNAMIC_SECTION(name(s) << (dtype == torch::kFloat ? " fp32" : " bf16")) {
                const Inputs in = random_inputs(s, 11 + s.N);
                // The CPU reference in fp64 on the inputs the GPU sees (rounded to bf16 where it is bf16).
                auto round = [&](const torch::Tensor& t) { return t.defined() ? t.to(dtype).to(torch::kDouble) : t; };
                const auto want = astro_attention_reference(round(in.q), round(in.k), round(in.v), in.mask,
                                                            in.R.defined() ? in.R.to(torch::kDouble) : in.R, opt);
                // Raw call with NaN-poisoned outputs.
                const auto q = gpu(in.q, dtype), k = gpu(in.k, dtype), v = gpu(in.v, dtype);
                const auto mask = in.mask.defined() ? in.mask.to(kGpu) : in.mask;
                const auto R = in.R.defined() ? in.R.to(kGpu, torch::kFloat) : in.R;
                const auto f32 = torch::TensorOptions().device(kGpu).dtype(torch::kFloat);
                auto out = torch::full({s.B, s.H, s.N, s.dh}, NAN, q.options());
                auto H = torch::full({s.B, s.H, s.m, s.dh}, NAN, f32), ksum = torch::full({s.B, s.H, s.m}, NAN, f32);
                auto g = torch::full({s.B, s.H, s.m}, NAN, f32), den = torch::full({s.B, s.H, s.N}, NAN, f32);
                cuda::AttentionShape sh{s.B, s.H, s.N, s.m, s.dh, R.defined() ? R.size(1) : s.N};
                cuda::AttentionScalars sc{0.55f, 1.f / 16, 1e-6f, false};
                cuda::astro_forward(dtype == torch::kFloat ? cuda::DType::f32 : cuda::DType::bf16, q.data_ptr(),
                                    k.data_ptr(), v.data_ptr(), mask.defined() ? mask.data_ptr<bool>() : nullptr,
                                    R.defined() ? R.data_ptr<float>() : nullptr, sh, sc, out.data_ptr(),
                                    H.data_ptr<float>(), ksum.data_ptr<float>(), g.data_ptr<float>(),
                                    den.data_ptr<float>(), nullptr);
                torch::cuda::synchronize();
                CHECK(all_finite(out));
                CHECK(all_finite(H));
                CHECK(all_finite(den));
                const double err = rel_err(out, want);
                INFO("relative error " << err);
                CHECK(err < (dtype == torch::kFloat ? 1e-5 : 1e-2));
                // The dispatch through astro_attention gives the same.
                CHECK(rel_err(astro_attention(q, k, v, mask, R.defined() ? R.to(dtype) : R, opt), want) <
                      (dtype == torch::kFloat ? 1e-5 : 2e-2));
            }
        }
    }
}

TEST_CASE("the CUDA attention backward matches the CPU gradients", "[gpu]") {
    REQUIRE(torch::cuda::is_available());
    for (const bool sigmoid : {false, true}) {
        for (const double alpha : {0.25, 1.0}) {
            const AstroAttentionOptions opt{alpha, 1.0 / 16, 1e-6, sigmoid};
            for (const auto& s : kShapes) {
                DYNAMIC_SECTION(name(s) << " alpha " << alpha << (sigmoid ? " sigmoid" : "")) {
                    const Inputs in = random_inputs(s, 23 + s.N);
                    auto leaf = [](const torch::Tensor& t, torch::Device d, torch::ScalarType dt) {
                        return t.defined() ? t.to(d, dt).detach().requires_grad_(true) : t;
                    };
                    // CPU: fp64, through the same Function (its hand-written backward is checked against
                    // autograd and finite differences in test_kernels).
                    const auto qc = leaf(in.q, torch::kCPU, torch::kDouble),
                               kc = leaf(in.k, torch::kCPU, torch::kDouble),
                               vc = leaf(in.v, torch::kCPU, torch::kDouble),
                               Rc = leaf(in.R, torch::kCPU, torch::kDouble);
                    const auto w = torch::randn({s.B, s.H, s.N, s.dh}, torch::kDouble);
                    (astro_attention(qc, kc, vc, in.mask, Rc, opt) * w).sum().backward();
                    const auto qg = leaf(in.q, kGpu, torch::kFloat), kg = leaf(in.k, kGpu, torch::kFloat),
                               vg = leaf(in.v, kGpu, torch::kFloat), Rg = leaf(in.R, kGpu, torch::kFloat);
                    const auto mg = in.mask.defined() ? in.mask.to(kGpu) : in.mask;
                    (astro_attention(qg, kg, vg, mg, Rg, opt) * w.to(kGpu, torch::kFloat)).sum().backward();
                    for (const auto& [what, a, b] : {std::tuple{"dq", qg, qc}, std::tuple{"dk", kg, kc},
                                                     std::tuple{"dv", vg, vc}, std::tuple{"dR", Rg, Rc}}) {
                        if (!b.defined()) continue;
                        REQUIRE(a.grad().defined());
                        CHECK(all_finite(a.grad()));
                        const double err = rel_err(a.grad(), b.grad());
                        INFO(what << " relative error " << err);
                        CHECK(err < 1e-4);
                    }
                }
            }
        }
    }
}

TEST_CASE("CUDA keyed dropout draws the CPU's masks, bit for bit", "[gpu]") {
    REQUIRE(torch::cuda::is_available());
    for (const int64_t n : {1, 3, 4, 5, 1023, 4099, 1 << 20}) {
        for (const double p : {0.1, 0.5, 0.9}) {
            const DropoutKey key{77, 5, 2, 1, 3};
            const auto x = torch::randn({n});
            const auto cpu = keyed_dropout(x, p, key);
            const auto dev = keyed_dropout(x.to(kGpu), p, key).to(torch::kCPU);
            CHECK(torch::equal(cpu == 0, dev == 0));
            CHECK(rel_err(dev, cpu) < 1e-6);
            const auto bf = keyed_dropout(x.to(kGpu, torch::kBFloat16), p, key).to(torch::kCPU, torch::kFloat);
            CHECK(torch::equal(cpu == 0, bf == 0));
        }
    }
}

TEST_CASE("the CUDA decay scan matches the CPU scan", "[gpu]") {
    REQUIRE(torch::cuda::is_available());
    for (const int64_t N : {1, 2, 17, 528, 4100}) {
        const auto W = torch::randn({4, N, 16}, torch::kDouble);
        for (const double scale : {0.01, 0.4, 5.0}) {
            const auto want = decay_product(W, scale);
            CHECK(rel_err(decay_product(W.to(kGpu), scale), want) < 1e-12);
            CHECK(rel_err(decay_product(W.to(kGpu, torch::kFloat), scale), want) < 1e-5);
        }
    }
}

#if RMAAT_TEST_TRAINER
TEST_CASE("AMRB gives BPTT's gradients on the GPU", "[gpu]") {
    REQUIRE(torch::cuda::is_available());
    for (const std::string kind : {"rmaat", "rmt"}) {
        DYNAMIC_SECTION(kind) {
            layers::ModelOptions mo;
            mo.kind = layers::kModelKinds.parse(kind);
            mo.d_model = 32;
            mo.d_ff = 64;
            mo.max_len = 4 * 64;
            mo.segment_length = 64;
            mo.memory_tokens = 4;
            mo.dropout = 0.1;
            torch::manual_seed(3);
            layers::Model model(mo, fallback_macro_parameters(64));
            model->to(kGpu);
            model->train();
            trainer::BatchTensors b;
            b.tokens = torch::randint(mo.vocab_size, {3, mo.max_len}, torch::kLong).to(kGpu);
            b.mask = torch::ones({3, mo.max_len}, torch::kBool);
            b.mask[2].narrow(0, 150, mo.max_len - 150).fill_(false);
            b.mask = b.mask.to(kGpu);
            b.labels = torch::randint(mo.n_classes, {3}, torch::kLong).to(kGpu);
            auto grads = [&](trainer::Backprop m) {
                model->zero_grad();
                trainer::backprop(*model, b, m, {9, 4});
                std::vector<torch::Tensor> g;
                for (const auto& p : model->parameters()) g.push_back(p.grad().defined() ? p.grad().clone() : p.grad());
                return g;
            };
            const auto bptt = grads(trainer::Backprop::bptt), amrb = grads(trainer::Backprop::amrb);
            REQUIRE(bptt.size() == amrb.size());
            for (size_t i = 0; i < bptt.size(); ++i) {
                REQUIRE(bptt[i].defined() == amrb[i].defined());
                if (!bptt[i].defined()) continue;
                INFO("parameter " << i);
                CHECK(rel_err(amrb[i], bptt[i]) < 1e-4);
            }
        }
    }
}
#endif
