#include "bench/layers_bench.hpp"

#include <dlfcn.h>
#include <malloc.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "kernels/astro_attention.hpp"
#include "kernels/threads.hpp"
#include "layers/attention.hpp"
#include "layers/encoder.hpp"
#include "layers/kinds.hpp"

namespace rmaat::bench {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// A field of /proc/self/status in kB ("VmRSS", "VmHWM"); nullopt where it cannot be read.
std::optional<double> status_kb(const std::string& field) {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind(field + ":", 0) == 0) return std::stod(line.substr(field.size() + 1));
    return std::nullopt;
}

// Resets the RSS high-water mark (Linux >= 4.0); false where not permitted.
bool reset_peak_rss() {
    std::ofstream f("/proc/self/clear_refs");
    if (!f) return false;
    f << "5";
    f.flush();
    return static_cast<bool>(f);
}

struct Result {
    double best_s = NAN;
    std::optional<double> peak_extra_mib;
    std::optional<double> held_mib;  // kernel table: kept by the graph between forward and backward
};

// One layer (attention or encoder) of one kind at one N: warm-up, then best of `repeats` forward +
// backward passes (gradients of the input and of every parameter).
Result time_layer(const LayersBenchOptions& opt, const std::string& module, const std::string& kind, long N) {
    torch::manual_seed(0);
    layers::AttentionOptions ao;
    ao.kind = layers::kAttentionKinds.parse(kind);
    ao.d_model = opt.d_model;
    ao.n_heads = opt.n_heads;
    ao.span = N;
    ao.dropout = 0.0;
    std::function<torch::Tensor(const torch::Tensor&)> forward;
    std::shared_ptr<torch::nn::Module> holder;
    if (module == "attention") {
        layers::Attention att(ao);
        holder = att.ptr();
        forward = [att](const torch::Tensor& x) mutable { return att->forward(x); };
    } else {
        layers::EncoderLayerOptions eo;
        eo.attention = ao;
        eo.d_ff = opt.d_ff;
        eo.dropout = 0.0;
        layers::EncoderLayer layer(eo);
        holder = layer.ptr();
        forward = [layer](const torch::Tensor& x) mutable { return layer->forward(x); };
    }
    const auto x = torch::randn({opt.batch, N, opt.d_model}).set_requires_grad(true);
    const auto w = torch::randn({opt.batch, N, opt.d_model});
    auto step = [&] {
        for (auto& p : holder->parameters())
            if (p.grad().defined()) p.mutable_grad() = torch::Tensor();
        x.mutable_grad() = torch::Tensor();
        (forward(x) * w).sum().backward();
    };
    step();  // warm-up
    Result r;
    double best = INFINITY;
    for (long i = 0; i < opt.repeats; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        step();
        best = std::min(best, seconds_since(t0));
    }
    r.best_s = best;
    if (opt.memory) {
        // Approximate: gradients from the last run are released first; freed heap memory goes back to
        // the OS (malloc_trim), so the run's allocations show up as RSS growth above the baseline.
        for (auto& p : holder->parameters()) p.mutable_grad() = torch::Tensor();
        x.mutable_grad() = torch::Tensor();
        malloc_trim(0);
        const auto rss0 = status_kb("VmRSS");
        if (rss0 && reset_peak_rss()) {
            step();
            const auto hwm = status_kb("VmHWM");
            if (hwm) r.peak_extra_mib = std::max(0.0, *hwm - *rss0) / 1024.0;
        }
    }
    return r;
}

// The attention op alone (kernels/astro_attention.hpp) on [B, H, N, m] inputs with the astro term:
// the autograd Function with its hand-written backward, or the plain-LibTorch reference that autograd
// differentiates. Same measurement as time_layer.
Result time_kernel(const LayersBenchOptions& opt, const std::string& impl, long N) {
    torch::manual_seed(0);
    const long H = opt.n_heads, m = opt.d_model / opt.n_heads;
    auto make = [&](std::vector<int64_t> shape) { return torch::randn(shape).set_requires_grad(true); };
    const auto q = make({opt.batch, H, N, m}), k = make({opt.batch, H, N, m}), v = make({opt.batch, H, N, m});
    const auto R = (torch::rand({H, N, m}) + 0.1).set_requires_grad(true);
    const auto w = torch::randn({opt.batch, H, N, m});
    kernels::AstroAttentionOptions ko;
    ko.c = 1.0 / double(m);
    auto step = [&] {
        for (auto t : {q, k, v, R}) t.mutable_grad() = torch::Tensor();
        const auto out = impl == "function" ? kernels::astro_attention(q, k, v, {}, R, ko)
                                            : kernels::astro_attention_reference(q, k, v, {}, R, ko);
        (out * w).sum().backward();
    };
    step();
    Result r;
    double best = INFINITY;
    for (long i = 0; i < opt.repeats; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        step();
        best = std::min(best, seconds_since(t0));
    }
    r.best_s = best;
    if (opt.memory) {
        // Held: what the graph keeps between forward and backward (RSS after the forward over the one
        // before, output included). Peak: the high-water mark over forward + backward.
        for (auto t : {q, k, v, R}) t.mutable_grad() = torch::Tensor();
        malloc_trim(0);
        const auto rss0 = status_kb("VmRSS");
        if (rss0 && reset_peak_rss()) {
            auto out = impl == "function" ? kernels::astro_attention(q, k, v, {}, R, ko)
                                          : kernels::astro_attention_reference(q, k, v, {}, R, ko);
            malloc_trim(0);
            const auto rss1 = status_kb("VmRSS");
            (out * w).sum().backward();
            const auto hwm = status_kb("VmHWM");
            if (hwm) r.peak_extra_mib = std::max(0.0, *hwm - *rss0) / 1024.0;
            if (rss1) r.held_mib = std::max(0.0, *rss1 - *rss0) / 1024.0;
        }
    }
    return r;
}

void print_kernel_table(const LayersBenchOptions& opt) {
    fmt::print(
        "\n## The attention op alone (kernels/astro_attention.hpp): autograd Function with a hand-written "
        "backward vs the plain-LibTorch reference differentiated by autograd\n\n"
        "B = {}, H = {}, m = d_h = {}, float32, astro term on, no padding; forward + backward, best of {}.\n\n",
        opt.batch, opt.n_heads, opt.d_model / opt.n_heads, opt.repeats);
    fmt::print(
        "| N | function ms | reference ms | function / reference | held MiB function | held MiB reference | "
        "peak MiB function | peak MiB reference |\n");
    fmt::print("|---|---|---|---|---|---|---|---|\n");
    auto mib = [](const std::optional<double>& v) { return v ? fmt::format("{:.1f}", *v) : std::string("n/a"); };
    for (long N : opt.sizes) {
        const Result f = time_kernel(opt, "function", N), r = time_kernel(opt, "reference", N);
        fmt::print("| {} | {:.2f} | {:.2f} | **{:.2f}** | {} | {} | {} | {} |\n", N, 1e3 * f.best_s, 1e3 * r.best_s,
                   f.best_s / r.best_s, mib(f.held_mib), mib(r.held_mib), mib(f.peak_extra_mib), mib(r.peak_extra_mib));
        std::fflush(stdout);
    }
}

// The library that provides sgemm_ to the process, i.e. LibTorch's float matrix products
// (cmake/blas.cmake).
std::string blas_provider() {
    void* sym = dlsym(RTLD_DEFAULT, "sgemm_");
    Dl_info info{};
    if (!sym || !dladdr(sym, &info) || !info.dli_fname) return "none found (LibTorch's own BLAS)";
    return info.dli_fname;
}

}  // namespace

void run_layers_bench(const LayersBenchOptions& opt) {
    kernels::set_compute_threads(opt.threads);
    const long d_head = opt.d_model / opt.n_heads;
    fmt::print(
        "## Attention layer, CPU forward + backward: B = {}, d_model = {}, {} heads (d_head = m = {}), "
        "float32, dropout 0, no padding; best of {} after 1 warm-up; encoder layer adds post-LN, "
        "FF {} (GELU)\n\n",
        opt.batch, opt.d_model, opt.n_heads, d_head, opt.repeats, opt.d_ff);
    fmt::print(
        "astro: alpha 0.25, scale 0.1, astro term on (R = P_rel W_R by two scans, per call). "
        "softmax: scaled dot-product, forms the N x N scores. Peak extra memory: growth of the RSS "
        "high-water mark over one forward + backward (after malloc_trim; approximate, includes "
        "allocator slack; excludes the parameters and the input).\n\n");
    fmt::print(
        "| module | kind | N | B | fwd+bwd ms | us / token | astro / softmax | per-token time vs N/4 | "
        "peak extra MiB |\n");
    fmt::print("|---|---|---|---|---|---|---|---|---|\n");
    std::vector<std::string> modules{"attention"};
    if (opt.encoder) modules.push_back("encoder");
    for (const auto& module : modules) {
        std::map<std::pair<std::string, long>, double> per_token;  // (kind, N) -> s / token
        for (long N : opt.sizes) {
            std::map<std::string, Result> res;
            std::map<std::string, std::string> failed;
            for (const auto& kind : opt.kinds) {
                try {
                    res[kind] = time_layer(opt, module, kind, N);
                } catch (const std::exception& e) {
                    // e.g. softmax running out of memory at large N: report and go on.
                    const std::string what = e.what();
                    failed[kind] = what.substr(0, what.find('\n'));
                }
            }
            for (const auto& kind : opt.kinds) {
                if (failed.count(kind)) {
                    fmt::print("| {} | {} | {} | {} | failed: {} | | | | |\n", module, kind, N, opt.batch,
                               failed[kind]);
                    continue;
                }
                const Result& r = res[kind];
                const double tok = r.best_s / double(N * opt.batch);
                per_token[{kind, N}] = tok;
                std::string vs_soft;
                if (kind != "softmax" && res.count("softmax"))
                    vs_soft = fmt::format("**{:.3f}**", r.best_s / res["softmax"].best_s);
                std::string vs_quarter;
                if (N % 4 == 0 && per_token.count({kind, N / 4}))
                    vs_quarter = fmt::format("{:.2f}", tok / per_token[{kind, N / 4}]);
                fmt::print("| {} | {} | {} | {} | {:.2f} | {:.3f} | {} | {} | {} |\n", module, kind, N, opt.batch,
                           1e3 * r.best_s, 1e6 * tok, vs_soft, vs_quarter,
                           r.peak_extra_mib ? fmt::format("{:.1f}", *r.peak_extra_mib) : std::string("n/a"));
            }
            std::fflush(stdout);
        }
    }
    if (opt.kernel) print_kernel_table(opt);
    fmt::print("\nTorch intra-op threads: {} (hardware threads {}). LibTorch {}. sgemm_ from {}.\n",
               at::get_num_threads(), std::thread::hardware_concurrency(), TORCH_VERSION, blas_provider());
}

}  // namespace rmaat::bench
