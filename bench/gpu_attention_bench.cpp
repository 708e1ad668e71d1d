// GPU attention benchmark (issue: CUDA kernels; built only with a CUDA-enabled LibTorch, run by
// scripts/gpu_check.sh on the device): forward + backward of one attention op at B = 32, H = 4,
// d_head = 64, N = 1024 .. 8192, fp32 and bf16, for
//   kernels: rmaat's CUDA kernels (kernels/cuda/, through astro_attention),
//   composed: the same maths as composed LibTorch ops (astro_attention_reference under autograd),
//   sdpa:     torch's scaled-dot-product attention (flash/efficient where the card allows),
// and the kernels' achieved bandwidth (the bytes their passes must read and write) as a fraction of
// the card's measured device-to-device copy bandwidth. One Markdown table; CUDA events time the work.
//   gpu_attention_bench [--quick]
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <vector>

#include "kernels/astro_attention.hpp"
#include "kernels/decay_product.hpp"

using namespace rmaat::kernels;

namespace {

const torch::Device kGpu(torch::kCUDA, 0);

// Best of `reps` after 2 warm-ups, milliseconds.
double time_ms(const std::function<void()>& f, int reps) {
    for (int i = 0; i < 2; ++i) f();
    double best = 1e30;
    for (int i = 0; i < reps; ++i) {
        at::cuda::CUDAEvent start(cudaEventDefault), stop(cudaEventDefault);
        start.record();
        f();
        stop.record();
        stop.synchronize();
        best = std::min<double>(best, start.elapsed_time(stop));
    }
    return best;
}

double copy_bandwidth_gbs() {
    const auto a = torch::empty({int64_t{1} << 28}, torch::TensorOptions().device(kGpu).dtype(torch::kFloat));
    auto b = torch::empty_like(a);
    const double ms = time_ms([&] { b.copy_(a); }, 10);
    return 2.0 * a.numel() * 4 / (ms * 1e6);
}

}  // namespace

int main(int argc, char** argv) {
    const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
    if (!torch::cuda::is_available()) {
        std::fprintf(stderr, "gpu_attention_bench: no CUDA device\n");
        return 2;
    }
    const int64_t B = 32, H = 4, d = 64;
    const double bw = copy_bandwidth_gbs();
    std::printf("GPU attention fwd+bwd, B %ld, H %ld, d_head %ld, astro term on, no mask; copy bandwidth %.0f GB/s\n\n",
                static_cast<long>(B), static_cast<long>(H), static_cast<long>(d), bw);
    std::printf(
        "| dtype | N | kernels ms | composed ms | sdpa ms | composed / kernels | sdpa / kernels | kernels "
        "bandwidth / copy |\n|---|---|---|---|---|---|---|---|\n");
    const std::vector<int64_t> Ns =
        quick ? std::vector<int64_t>{1024, 4096} : std::vector<int64_t>{1024, 2048, 4096, 8192};
    for (const auto dtype : {torch::kFloat, torch::kBFloat16}) {
        for (const int64_t N : Ns) {
            const auto opt = torch::TensorOptions().device(kGpu).dtype(dtype);
            auto q = torch::randn({B, H, N, d}, opt).requires_grad_(true);
            auto k = torch::randn({B, H, N, d}, opt).requires_grad_(true);
            auto v = torch::randn({B, H, N, d}, opt).requires_grad_(true);
            const auto R = phi(decay_product(torch::randn({H, N, d}, opt.dtype(torch::kFloat)) * 0.02, 0.1)).to(dtype);
            const auto dout = torch::randn({B, H, N, d}, opt);
            const AstroAttentionOptions ao{0.5, 1.0 / d, 1e-6, false};
            auto run = [&](const std::function<torch::Tensor()>& f) {
                return [&, f] {
                    q.mutable_grad() = torch::Tensor();
                    k.mutable_grad() = torch::Tensor();
                    v.mutable_grad() = torch::Tensor();
                    f().backward(dout);
                };
            };
            const int reps = quick ? 5 : 10;
            const double t_k = time_ms(run([&] { return astro_attention(q, k, v, {}, R, ao); }), reps);
            const double t_c = time_ms(run([&] { return astro_attention_reference(q, k, v, {}, R, ao); }), reps);
#if TORCH_VERSION_MAJOR >= 2  // torch's fused attention (LibTorch 1.13 has no public scaled_dot_product_attention)
            const double t_s = time_ms(run([&] { return at::scaled_dot_product_attention(q, k, v); }), reps);
#else
            const double t_s = NAN;
#endif
            // The passes' minimum traffic: forward reads k, v (state) and q, writes out; backward reads
            // q, dout (readout), k, v (state) and writes dq, dk, dv; plus den (fp32), written and read once.
            const double elem = dtype == torch::kFloat ? 4 : 2;
            const double bytes = B * H * N * (d * elem * (4 + 7) + 4 * 2);
            const double gbs = bytes / (t_k * 1e6);
            std::printf("| %s | %ld | %.3f | %.3f | %.3f | %.2fx | %.2fx | %.0f%% |\n",
                        dtype == torch::kFloat ? "fp32" : "bf16", static_cast<long>(N), t_k, t_c, t_s, t_c / t_k,
                        t_s / t_k, 100 * gbs / bw);
            std::fflush(stdout);
        }
    }
    return 0;
}
