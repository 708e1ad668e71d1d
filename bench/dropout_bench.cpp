#include "bench/dropout_bench.hpp"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <functional>

#include <fmt/format.h>

#include "core/macro_parameters.hpp"
#include "kernels/dropout.hpp"
#include "kernels/threads.hpp"
#include "layers/model.hpp"
#include "trainer/backprop.hpp"

namespace rmaat::bench {

namespace {

// Best of `repeats` after one warm-up run.
double best_seconds(long repeats, const std::function<void()>& f) {
    f();
    double best = INFINITY;
    for (long r = 0; r < repeats; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        f();
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return best;
}

void op_table(const DropoutBenchOptions& opt) {
    const auto x = torch::randn(opt.shape, torch::kFloat32).requires_grad_(true);
    const auto g = torch::randn(opt.shape, torch::kFloat32);
    const kernels::DropoutKey key{1, 2, 3, 0, 0};
    const auto fwd_bwd = [&](const std::function<torch::Tensor(const torch::Tensor&)>& drop) {
        return [&, drop] {
            x.mutable_grad() = torch::Tensor();
            drop(x).backward(g);
        };
    };
    const auto fwd = [&](const std::function<torch::Tensor(const torch::Tensor&)>& drop) {
        return [&, drop] {
            torch::NoGradGuard ng;
            drop(x);
        };
    };
    const auto keyed = [&](const torch::Tensor& t) { return kernels::keyed_dropout(t, opt.p, key); };
    const auto plain = [&](const torch::Tensor& t) { return torch::dropout(t, opt.p, true); };
    const double kf = best_seconds(opt.repeats, fwd(keyed)), kfb = best_seconds(opt.repeats, fwd_bwd(keyed));
    const double tf = best_seconds(opt.repeats, fwd(plain)), tfb = best_seconds(opt.repeats, fwd_bwd(plain));
    const double bytes = static_cast<double>(x.numel()) * 4;
    fmt::print("## Keyed dropout vs torch::dropout: x [{}, {}, {}], float32, p = {}, CPU, {} threads; best of {}\n\n",
               opt.shape[0], opt.shape[1], opt.shape[2], opt.p, at::get_num_threads(), opt.repeats);
    fmt::print("| op | forward ms | forward + backward ms | forward GB/s (read x, write y) | saved for backward |\n");
    fmt::print("|---|---|---|---|---|\n");
    fmt::print("| keyed_dropout (Philox4x32-10) | {:.2f} | {:.2f} | {:.2f} | key and p |\n", 1e3 * kf, 1e3 * kfb,
               2 * bytes / kf / 1e9);
    fmt::print("| torch::dropout (Bernoulli) | {:.2f} | {:.2f} | {:.2f} | the mask (numel floats) |\n", 1e3 * tf,
               1e3 * tfb, 2 * bytes / tf / 1e9);
    fmt::print("| keyed / torch | **{:.2f}** | **{:.2f}** | | |\n\n", kf / tf, kfb / tfb);
    std::fflush(stdout);
}

void step_table(const DropoutBenchOptions& opt) {
    layers::ModelOptions mo;
    mo.kind = layers::kModelKinds.parse(opt.kind);
    mo.d_model = opt.shape[2];
    mo.max_len = opt.shape[1];
    mo.segment_length = opt.segment_length;
    const auto method = trainer::kBackprops.parse(opt.backprop);
    const int64_t B = opt.shape[0], L = opt.shape[1];
    trainer::BatchTensors b;
    b.tokens = torch::randint(mo.vocab_size, {B, L}, torch::kLong);
    b.mask = torch::ones({B, L}, torch::kBool);
    b.labels = torch::randint(mo.n_classes, {B}, torch::kLong);
    auto time_step = [&](double p) {
        mo.dropout = p;
        torch::manual_seed(0);
        layers::Model model(mo, fallback_macro_parameters(64));
        model->train();
        int64_t step = 0;
        return best_seconds(1, [&] {
            model->zero_grad();
            trainer::backprop(*model, b, method, {1, step++});
        });
    };
    // Interleaved (p, 0, p, 0, ...) and best of each, so a change in the machine's load hits both.
    double with = INFINITY, without = INFINITY;
    const long rounds = std::max<long>(1, opt.repeats / 2);
    for (long r = 0; r < rounds; ++r) {
        with = std::min(with, time_step(opt.p));
        without = std::min(without, time_step(0.0));
    }
    // Elements through dropout per step (5.4): per segment the embedding [B, S, d] and per layer
    // attention output, attention residual, FF output [B, N, d] and FF hidden [B, N, d_ff], with
    // N = M + S; AMRB runs 2T - 1 segment forwards and T backwards, BPTT T and T.
    const bool rec = mo.recurrent();
    const int64_t S = rec ? mo.segment_length : L, T = rec ? mo.segments(L) : 1, N = S + (rec ? mo.memory_tokens : 0);
    const double per_segment = double(B) * S * mo.d_model + double(mo.n_layers) * B * N * (3 * mo.d_model + mo.d_ff);
    const double forwards = (rec && method == trainer::Backprop::amrb) ? 2 * T - 1 : T;
    fmt::print(
        "## Dropout's share of one training step: kind {}, backprop {}, B = {}, L = {} (segments of {}), d_model = "
        "{}, {} layers, d_ff {}, float32; interleaved, best of {} after 1 warm-up each\n\n",
        opt.kind, opt.backprop, B, L, opt.segment_length, mo.d_model, mo.n_layers, mo.d_ff, rounds);
    fmt::print(
        "| step ms, p = {} | step ms, p = 0 | measured share | dropout elements per step (fwd / bwd) "
        "|\n|---|---|---|---|\n",
        opt.p);
    fmt::print("| {:.0f} | {:.0f} | **{:.1f} %** | {:.0f} M / {:.0f} M |\n\n", 1e3 * with, 1e3 * without,
               100 * (with - without) / with, forwards * per_segment / 1e6, T * per_segment / 1e6);
}

}  // namespace

void run_dropout_bench(const DropoutBenchOptions& opt) {
    kernels::set_compute_threads(opt.threads);
    TORCH_CHECK(opt.shape.size() == 3, "bench dropout: --shape must be B N d");
    op_table(opt);
    if (opt.step) step_table(opt);
}

}  // namespace rmaat::bench
