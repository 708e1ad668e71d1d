// kernels/: the astromorphic attention Function (hand-written backward) and the position-decay
// product, against the implementation they replaced in layers/ (kept verbatim below as the oracle),
// the plain-LibTorch reference and its autograd gradients. Adding a case is one row of kCases.
#include <dlfcn.h>
#include <sys/resource.h>
#include <torch/torch.h>

#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "kernels/astro_attention.hpp"
#include "kernels/decay_product.hpp"
#include "kernels/host_memory.hpp"
#include "kernels/threads.hpp"
#include "tests/catch.hpp"

using namespace rmaat::kernels;

namespace {

// The former AttentionImpl::astro (layers/attention.cpp before kernels/ existed), verbatim but for
// the options it read from the module.
torch::Tensor former_astro(const torch::Tensor& q_in, const torch::Tensor& k_in, const torch::Tensor& v_in,
                           const torch::Tensor& mask, const torch::Tensor& R_phi, bool linear, bool astro_term,
                           double alpha, double c, double eps, bool sigmoid_on_H) {
    auto phi = [](const torch::Tensor& z) { return torch::elu(z) + 1.0; };
    const int64_t N = q_in.size(2);
    const auto acc = q_in.scalar_type() == torch::kDouble ? torch::kDouble : torch::kFloat;
    auto pq = phi(q_in.to(acc)), pk = phi(k_in.to(acc)), v = v_in.to(acc);
    if (mask.defined()) {
        auto mf = mask.to(acc).unsqueeze(1).unsqueeze(-1);
        pk = pk * mf;
        v = v * mf;
    }
    auto Hm = torch::matmul(pk.transpose(-2, -1), v);
    if (!linear && astro_term) {
        auto R = R_phi.to(acc).narrow(1, 0, N);
        Hm = Hm + torch::matmul(R.transpose(-2, -1), v);
    }
    Hm = Hm * c;
    if (sigmoid_on_H && !linear) Hm = torch::sigmoid(Hm);
    auto ksum = pk.sum(-2);
    auto g = linear || alpha == 1.0 ? ksum : ksum.clamp_min(std::numeric_limits<float>::min()).pow(alpha);
    auto num = torch::matmul(pq, Hm);
    auto den = (pq * g.unsqueeze(-2)).sum(-1, true) + eps;
    return (num / den).to(q_in.scalar_type());
}

struct Case {
    std::string name;
    int64_t B, H, N, m, dh;
    int64_t span;         // rows of R_phi (>= N); 0: no astro term
    int pad;              // padded tokens at the end of sample 0 (N: a sample with no real token)
    double alpha = 0.25;  // 1 with c = 1 and no R: linear attention
    bool sigmoid = false;
};

const std::vector<Case> kCases{
    {"astro", 2, 2, 7, 3, 4, 9, 0},
    {"astro, padding", 2, 3, 8, 4, 2, 8, 3},
    {"astro, a sample with no real token", 2, 1, 5, 2, 3, 6, 5},
    {"astro, no astro term", 1, 2, 6, 3, 3, 0, 2},
    {"astro, sigmoid on H", 2, 2, 6, 3, 3, 6, 1, 0.25, true},
    {"astro, alpha 0.55", 2, 2, 9, 4, 4, 12, 2, 0.55},
    {"linear (alpha 1, c 1, no R)", 2, 2, 7, 3, 3, 0, 2, 1.0},
    {"m != d_h, B = 1", 1, 4, 16, 5, 2, 20, 4},
};

struct Inputs {
    torch::Tensor q, k, v, mask, R;
    AstroAttentionOptions opt;
};

Inputs make_inputs(const Case& c, torch::ScalarType dtype) {
    torch::manual_seed(42);
    const auto o = torch::TensorOptions().dtype(torch::kDouble);
    Inputs in;
    in.q = torch::randn({c.B, c.H, c.N, c.m}, o).to(dtype).requires_grad_(true);
    in.k = torch::randn({c.B, c.H, c.N, c.m}, o).to(dtype).requires_grad_(true);
    in.v = torch::randn({c.B, c.H, c.N, c.dh}, o).to(dtype).requires_grad_(true);
    if (c.pad > 0) {
        in.mask = torch::ones({c.B, c.N}, torch::kBool);
        in.mask[0].narrow(0, c.N - c.pad, c.pad).fill_(false);
    }
    if (c.span > 0) in.R = (torch::rand({c.H, c.span, c.m}, o) + 0.1).to(dtype).requires_grad_(true);
    in.opt.alpha = c.alpha;
    in.opt.c = c.alpha == 1.0 && c.span == 0 ? 1.0 : 1.0 / double(c.m);
    in.opt.eps = 1e-6;
    in.opt.sigmoid_on_H = c.sigmoid;
    return in;
}

double max_rel_err(const torch::Tensor& a, const torch::Tensor& b) {
    const auto ad = a.to(torch::kDouble), bd = b.to(torch::kDouble);
    return ((ad - bd).abs().max() / bd.abs().max().clamp_min(1e-30)).item<double>();
}

std::vector<torch::Tensor> grads_of(const torch::Tensor& out, const Inputs& in, const torch::Tensor& w) {
    std::vector<torch::Tensor> wrt{in.q, in.k, in.v};
    if (in.R.defined()) wrt.push_back(in.R);
    return torch::autograd::grad({(out.to(torch::kDouble) * w).sum()}, wrt);
}

}  // namespace

TEST_CASE("astro_attention equals the former layers/ implementation (fp64, every case)", "[kernels]") {
    for (const auto& c : kCases) {
        DYNAMIC_SECTION(c.name) {
            const auto in = make_inputs(c, torch::kDouble);
            const bool linear = c.alpha == 1.0 && c.span == 0;
            const auto former = former_astro(in.q, in.k, in.v, in.mask, in.R, linear, c.span > 0, in.opt.alpha,
                                             in.opt.c, in.opt.eps, in.opt.sigmoid_on_H);
            const auto fast = astro_attention(in.q, in.k, in.v, in.mask, in.R, in.opt);
            const auto ref = astro_attention_reference(in.q, in.k, in.v, in.mask, in.R, in.opt);
            REQUIRE(fast.sizes() == former.sizes());
            CHECK(fast.scalar_type() == torch::kDouble);
            CHECK(max_rel_err(fast, former) < 1e-14);
            CHECK(max_rel_err(ref, former) < 1e-14);
            CHECK(torch::isfinite(fast).all().item<bool>());
        }
    }
}

TEST_CASE("astro_attention's hand-written backward equals autograd of the reference (fp64)", "[kernels]") {
    for (const auto& c : kCases) {
        DYNAMIC_SECTION(c.name) {
            const auto in = make_inputs(c, torch::kDouble);
            const auto w = torch::randn({c.B, c.H, c.N, c.dh}, torch::kDouble);
            const auto g_fast = grads_of(astro_attention(in.q, in.k, in.v, in.mask, in.R, in.opt), in, w);
            const auto g_ref = grads_of(astro_attention_reference(in.q, in.k, in.v, in.mask, in.R, in.opt), in, w);
            REQUIRE(g_fast.size() == g_ref.size());
            const char* names[] = {"dq", "dk", "dv", "dR_phi"};
            for (size_t i = 0; i < g_fast.size(); ++i) {
                INFO(names[i]);
                REQUIRE(g_fast[i].sizes() == g_ref[i].sizes());
                CHECK(max_rel_err(g_fast[i], g_ref[i]) < 1e-12);
                CHECK(torch::isfinite(g_fast[i]).all().item<bool>());
            }
            if (c.pad > 0) {  // padded keys and values get no gradient
                const int64_t p = c.pad;
                CHECK(g_fast[1][0].narrow(1, c.N - p, p).abs().max().item<double>() == 0.0);
                CHECK(g_fast[2][0].narrow(1, c.N - p, p).abs().max().item<double>() == 0.0);
            }
            if (c.span > c.N)  // rows of R_phi beyond the input get no gradient
                CHECK(g_fast[3].narrow(1, c.N, c.span - c.N).abs().max().item<double>() == 0.0);
        }
    }
}

TEST_CASE("astro_attention in fp32 and bf16 against the fp64 reference", "[kernels]") {
    // Normalised error of the output and the gradients: 1e-5 in fp32, 1e-2 in bf16 (inputs rounded).
    for (const auto& [dtype, tol] : {std::pair{torch::kFloat, 1e-5}, std::pair{torch::kBFloat16, 2e-2}}) {
        for (const auto& c : kCases) {
            DYNAMIC_SECTION(c.name << (dtype == torch::kFloat ? " fp32" : " bf16")) {
                const auto in = make_inputs(c, dtype);
                // The reference sees the same rounded inputs, in fp64.
                Inputs ref = in;
                ref.q = in.q.detach().to(torch::kDouble).requires_grad_(true);
                ref.k = in.k.detach().to(torch::kDouble).requires_grad_(true);
                ref.v = in.v.detach().to(torch::kDouble).requires_grad_(true);
                if (in.R.defined()) ref.R = in.R.detach().to(torch::kDouble).requires_grad_(true);
                const auto w = torch::randn({c.B, c.H, c.N, c.dh}, torch::kDouble);
                const auto out = astro_attention(in.q, in.k, in.v, in.mask, in.R, in.opt);
                const auto out_ref = astro_attention_reference(ref.q, ref.k, ref.v, ref.mask, ref.R, ref.opt);
                CHECK(out.scalar_type() == dtype);
                CHECK(max_rel_err(out, out_ref) < tol);
                const auto g = grads_of(out, in, w), g_ref = grads_of(out_ref, ref, w);
                for (size_t i = 0; i < g.size(); ++i) {
                    INFO("gradient " << i);
                    CHECK(g[i].scalar_type() == dtype);
                    CHECK(max_rel_err(g[i], g_ref[i]) < tol);
                }
            }
        }
    }
}

TEST_CASE("astro_attention refuses inputs of the wrong shape with a clear message", "[kernels]") {
    const auto q = torch::randn({2, 2, 5, 3});
    const auto v = torch::randn({2, 2, 5, 4});
    CHECK_THROWS_WITH(astro_attention(q, torch::randn({2, 2, 5, 2}), v, {}, {}, {}), ContainsSubstring("q and k"));
    CHECK_THROWS_WITH(astro_attention(q, q, torch::randn({2, 2, 6, 4}), {}, {}, {}), ContainsSubstring("v must be"));
    CHECK_THROWS_WITH(astro_attention(q, q, v, torch::ones({2, 4}, torch::kBool), {}, {}),
                      ContainsSubstring("mask must be [B, N]"));
    CHECK_THROWS_WITH(astro_attention(q, q, v, {}, torch::rand({2, 4, 3}), {}), ContainsSubstring("exceeds the span"));
}

TEST_CASE("decay product: sequential scan, doubling scan and the dense product agree", "[kernels]") {
    for (const double scale : {0.0, 0.05, 0.7, 3.0, 60.0}) {
        for (const int64_t N : {1, 2, 5, 64, 333}) {
            DYNAMIC_SECTION("scale " << scale << ", N " << N) {
                torch::manual_seed(N);
                const auto W = torch::randn({3, N, 4}, torch::kDouble);
                const auto dense = decay_product_dense(W, scale);
                CHECK(max_rel_err(decay_product_sequential(W, scale), dense) < 1e-12);
                CHECK(max_rel_err(decay_product_doubling(W, scale), dense) < 1e-12);
                CHECK(max_rel_err(decay_product(W, scale), dense) < 1e-12);
            }
        }
    }
    SECTION("half precision is scanned in float and returned in its own dtype") {
        const auto W = torch::randn({2, 300, 8});
        for (const auto dt : {torch::kBFloat16, torch::kHalf}) {
            const auto w = W.to(dt);
            const auto dense = decay_product_dense(w.to(torch::kDouble), 0.1);
            for (const auto& r : {decay_product_sequential(w, 0.1), decay_product_doubling(w, 0.1)}) {
                CHECK(r.scalar_type() == dt);
                CHECK(max_rel_err(r, dense) < 1e-2);
            }
        }
    }
    SECTION("gradient of the dispatching op is the product applied to the incoming gradient") {
        const auto W = torch::randn({2, 17, 3}, torch::kDouble).requires_grad_(true);
        const auto G = torch::randn({2, 17, 3}, torch::kDouble);
        const auto g = torch::autograd::grad({(decay_product(W, 0.3) * G).sum()}, {W})[0];
        CHECK(max_rel_err(g, decay_product_dense(G, 0.3)) < 1e-12);
    }
}

TEST_CASE("compute threads: torch's pool gets n, OpenBLAS's own pool one thread", "[kernels]") {
    // OpenBLAS's getter, where this process's LibTorch runs on OpenBLAS (the Debian build, check_blas.sh).
    void* sym = dlsym(RTLD_DEFAULT, "openblas_get_num_threads");
    int (*blas_threads)() = nullptr;
    std::memcpy(&blas_threads, &sym, sizeof sym);
    CHECK(blas_threads_settable() == (blas_threads != nullptr));
    const int before = torch::get_num_threads();
    CHECK(set_compute_threads(2) == 2);
    CHECK(torch::get_num_threads() == 2);
    if (blas_threads) CHECK(blas_threads() == 1);
    CHECK(set_compute_threads(0) == 2);  // 0 leaves torch's pool as it is
    CHECK(set_compute_threads(before) == before);
}

TEST_CASE("freed activations are reused without faulting their pages in again", "[kernels]") {
    if (std::getenv("MALLOC_MMAP_THRESHOLD_") || std::getenv("MALLOC_TRIM_THRESHOLD_")) {
        WARN("the environment sets glibc's thresholds: skipped");
        return;
    }
#if defined(__GLIBC__)
    // Minor page faults of ten "steps" that each hold 32 activations of 256 KiB (2048 pages in all)
    // and free them at the end, as a training step does.
    auto faults_of_ten_steps = [] {
        rusage before{}, after{};
        getrusage(RUSAGE_SELF, &before);
        for (int step = 0; step < 10; ++step) {
            std::vector<torch::Tensor> held;
            for (int i = 0; i < 32; ++i) held.push_back(torch::ones({1 << 16}, torch::kFloat32));
        }
        getrusage(RUSAGE_SELF, &after);
        return after.ru_minflt - before.ru_minflt;
    };
    faults_of_ten_steps();
    CHECK(faults_of_ten_steps() > 5000);  // glibc's default: the block goes back to the kernel each time
    keep_freed_memory();
    faults_of_ten_steps();  // the first step faults its pages in once
    CHECK(faults_of_ten_steps() < 100);
#else
    WARN("not glibc: skipped");
#endif
}

TEST_CASE("the CPU kernel (fp32, m = d_h in {16, 32, 64}) against the fp64 reference, on the layer's strided views",
          "[kernels]") {
    // q, k and v as the layer makes them: views of one [B, N, 3 H w] product (not contiguous).
    struct KernelCase {
        std::string name;
        int64_t B, H, N, w, span;
        int pad;
        double alpha;
        bool sigmoid;
    };
    const std::vector<KernelCase> cases{
        {"w 16, astro, padding", 3, 4, 37, 16, 40, 5, 0.25, false},
        {"w 32, astro, a sample with no real token", 2, 2, 9, 32, 9, 9, 0.55, false},
        {"w 64, sigmoid on H", 2, 1, 20, 64, 24, 2, 0.25, true},
        {"w 16, linear (alpha 1, c 1, no R)", 2, 2, 13, 16, 0, 3, 1.0, false},
    };
    for (const auto& c : cases) {
        DYNAMIC_SECTION(c.name) {
            torch::manual_seed(3);
            const auto qkv = torch::randn({c.B, c.N, 3 * c.H * c.w}).requires_grad_(true);
            const auto parts = qkv.split(c.H * c.w, -1);
            auto view = [&](int i) { return parts[static_cast<size_t>(i)].view({c.B, c.N, c.H, c.w}).transpose(1, 2); };
            const auto q = view(0), k = view(1), v = view(2);
            torch::Tensor mask, R;
            if (c.pad > 0) {
                mask = torch::ones({c.B, c.N}, torch::kBool);
                mask[0].narrow(0, c.N - c.pad, c.pad).fill_(false);
            }
            if (c.span > 0) R = (torch::rand({c.H, c.span, c.w}) + 0.1).requires_grad_(true);
            AstroAttentionOptions opt;
            opt.alpha = c.alpha;
            opt.c = c.span == 0 ? 1.0 : 1.0 / double(c.w);
            opt.sigmoid_on_H = c.sigmoid;
            const auto out = astro_attention(q, k, v, mask, R, opt);
            // The reference in fp64 on the same values.
            const auto qkv64 = qkv.detach().to(torch::kDouble).requires_grad_(true);
            const auto p64 = qkv64.split(c.H * c.w, -1);
            auto view64 = [&](int i) { return p64[static_cast<size_t>(i)].view({c.B, c.N, c.H, c.w}).transpose(1, 2); };
            const auto R64 = R.defined() ? R.detach().to(torch::kDouble).requires_grad_(true) : torch::Tensor();
            const auto ref = astro_attention_reference(view64(0), view64(1), view64(2), mask, R64, opt);
            CHECK(out.scalar_type() == torch::kFloat);
            CHECK(max_rel_err(out, ref) < 1e-5);
            const auto w = torch::randn({c.B, c.H, c.N, c.w}, torch::kDouble);
            std::vector<torch::Tensor> wrt{qkv}, wrt64{qkv64};
            if (R.defined()) {
                wrt.push_back(R);
                wrt64.push_back(R64);
            }
            const auto g = torch::autograd::grad({(out.to(torch::kDouble) * w).sum()}, wrt);
            const auto g64 = torch::autograd::grad({(ref * w).sum()}, wrt64);
            for (size_t i = 0; i < g.size(); ++i) {
                INFO((i == 0 ? "d qkv" : "d R_phi"));
                CHECK(max_rel_err(g[i], g64[i]) < 1e-5);
            }
            if (c.pad > 0) {  // padded keys and values get no gradient
                const auto dqkv = g[0][0].narrow(0, c.N - c.pad, c.pad).narrow(-1, c.H * c.w, 2 * c.H * c.w);
                CHECK(dqkv.abs().max().item<double>() == 0.0);
            }
        }
    }
}
