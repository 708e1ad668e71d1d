#include "bench/train_bench.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <torch/torch.h>

#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/macro_parameters.hpp"
#include "kernels/threads.hpp"
#include "layers/model.hpp"
#include "trainer/backprop.hpp"

namespace rmaat::bench {

namespace {

struct Measured {
    double step_s = 0, peak_mb = 0, before_mb = 0;
};

double rss_mb(const char* field) {  // VmRSS or VmHWM of this process, MiB
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind(field, 0) == 0) return std::stod(line.substr(std::string(field).size())) / 1024.0;
    return NAN;
}

// One variant in this process: the model built, one warm-up step, `steps` timed ones.
Measured measure(const TrainBenchOptions& opt, const std::string& kind, const std::string& method, long length) {
    layers::ModelOptions mo;
    mo.kind = layers::kModelKinds.parse(kind);
    mo.d_model = opt.d_model;
    mo.d_ff = 4 * opt.d_model;
    mo.max_len = length;
    mo.segment_length = opt.segment_length;
    mo.dropout = opt.dropout;
    torch::manual_seed(0);
    const int T = static_cast<int>(mo.recurrent() ? mo.segments(length) : 1);
    layers::Model model(mo, fallback_macro_parameters(std::max(T, 64)));
    model->train();
    trainer::BatchTensors b;
    b.tokens = torch::randint(mo.vocab_size, {opt.batch, length}, torch::kLong);
    b.mask = torch::ones({opt.batch, length}, torch::kBool);
    b.labels = torch::randint(mo.n_classes, {opt.batch}, torch::kLong);
    const auto backprop = trainer::kBackprops.parse(method);
    Measured m;
    m.before_mb = rss_mb("VmRSS:");
    int64_t step = 0;
    auto one = [&] {
        model->zero_grad();
        trainer::backprop(*model, b, backprop, {1, step++});
    };
    one();
    m.step_s = INFINITY;
    for (long s = 0; s < opt.steps; ++s) {
        const auto t0 = std::chrono::steady_clock::now();
        one();
        m.step_s = std::min(m.step_s, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    m.peak_mb = rss_mb("VmHWM:");
    return m;
}

// Runs one variant in a fresh process of this program and reads its one line back.
Measured in_own_process(const TrainBenchOptions& opt, const std::string& kind, const std::string& method, long length) {
    std::string cmd = fmt::format(
        "/proc/{}/exe bench train --variant {}:{}:{} --batch {} --d-model {} --segment-length {} --dropout {} "
        "--steps {} --threads {} 2>&1",
        getpid(), kind, method, length, opt.batch, opt.d_model, opt.segment_length, opt.dropout, opt.steps,
        opt.threads);
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
    if (!pipe) throw std::runtime_error("bench train: cannot start " + cmd);
    std::string out;
    std::array<char, 4096> buf{};
    while (fgets(buf.data(), buf.size(), pipe.get())) out += buf.data();
    Measured m;
    const auto at = out.rfind("variant ");
    std::istringstream in(at == std::string::npos ? "" : out.substr(at + 8));
    if (!(in >> m.step_s >> m.peak_mb >> m.before_mb))
        throw std::runtime_error(fmt::format("bench train: variant {}:{}:{} failed:\n{}", kind, method, length, out));
    return m;
}

std::string mb(double v) {
    return fmt::format("{:.0f}", v);
}

}  // namespace

void run_train_bench(const TrainBenchOptions& opt) {
    kernels::set_compute_threads(opt.threads);
    if (!opt.variant.empty()) {
        std::istringstream in(opt.variant);
        std::string kind, method, len;
        std::getline(in, kind, ':'), std::getline(in, method, ':'), std::getline(in, len);
        char* end = nullptr;
        const long length = std::strtol(len.c_str(), &end, 10);
        if (len.empty() || *end != '\0' || length < 1)
            throw InputError("bench train: --variant wants KIND:BACKPROP:LENGTH, got \"" + opt.variant + "\"");
        const Measured m = measure(opt, kind, method, length);
        fmt::print("variant {} {} {}\n", m.step_s, m.peak_mb, m.before_mb);
        return;
    }
    const std::string setup = fmt::format(
        "B = {}, d_model = {}, d_ff = {}, 2 layers, 4 heads, M = 16 memory tokens, segments of {}, dropout {}, "
        "float32, CPU, {} threads; one process per variant; step = loss + gradients (no optimiser); best of {} "
        "after 1 warm-up; peak = VmHWM of the process, step's share = peak - RSS before the first step",
        opt.batch, opt.d_model, 4 * opt.d_model, opt.segment_length, opt.dropout,
        opt.threads > 0 ? opt.threads : at::get_num_threads(), opt.steps);

    fmt::print("## AMRB vs BPTT (rmaat)\n\n{}\n\n", setup);
    fmt::print(
        "| L | segments | AMRB ms | BPTT ms | AMRB peak MiB (step's share) | BPTT peak MiB (step's share) | "
        "BPTT / AMRB step memory |\n|---|---|---|---|---|---|---|\n");
    for (long L : opt.lengths) {
        const Measured a = in_own_process(opt, "rmaat", "amrb", L), b = in_own_process(opt, "rmaat", "bptt", L);
        fmt::print("| {} | {} | {:.0f} | {:.0f} | {} ({}) | {} ({}) | **{:.1f}x** |\n", L,
                   (L + opt.segment_length - 1) / opt.segment_length, 1e3 * a.step_s, 1e3 * b.step_s, mb(a.peak_mb),
                   mb(a.peak_mb - a.before_mb), mb(b.peak_mb), mb(b.peak_mb - b.before_mb),
                   (b.peak_mb - b.before_mb) / (a.peak_mb - a.before_mb));
        std::fflush(stdout);
    }

    if (!opt.sweep_segments.empty()) {
        fmt::print("\n## Peak memory as the number of segments grows (rmaat, L = T x {})\n\n", opt.segment_length);
        fmt::print(
            "| T | L | AMRB ms | AMRB step's share MiB | BPTT ms | BPTT step's share MiB "
            "|\n|---|---|---|---|---|---|\n");
        for (long T : opt.sweep_segments) {
            const long L = T * opt.segment_length;
            const Measured a = in_own_process(opt, "rmaat", "amrb", L), b = in_own_process(opt, "rmaat", "bptt", L);
            fmt::print("| {} | {} | {:.0f} | {} | {:.0f} | {} |\n", T, L, 1e3 * a.step_s, mb(a.peak_mb - a.before_mb),
                       1e3 * b.step_s, mb(b.peak_mb - b.before_mb));
            std::fflush(stdout);
        }
    }

    if (opt.baselines && !opt.lengths.empty()) {
        const long L = opt.lengths.front();
        fmt::print("\n## RMAAT + AMRB vs the baselines, L = {}\n\n", L);
        fmt::print("| model | gradients | step ms | peak MiB | step's share MiB |\n|---|---|---|---|---|\n");
        const std::array<std::array<const char*, 2>, 6> rows{{{"rmaat", "amrb"},
                                                              {"rmaat", "bptt"},
                                                              {"rmt", "bptt"},
                                                              {"rlt", "bptt"},
                                                              {"at", "bptt"},
                                                              {"linear", "bptt"}}};
        for (const auto& [kind, method] : rows) {
            const Measured m = in_own_process(opt, kind, method, L);
            fmt::print("| {} | {} | {:.0f} | {} | {} |\n", kind, method, 1e3 * m.step_s, mb(m.peak_mb),
                       mb(m.peak_mb - m.before_mb));
            std::fflush(stdout);
        }
        try {
            const Measured m = in_own_process(opt, "transformer", "bptt", L);
            fmt::print("| transformer | whole sequence | {:.0f} | {} | {} |\n", 1e3 * m.step_s, mb(m.peak_mb),
                       mb(m.peak_mb - m.before_mb));
        } catch (const std::exception& e) {
            fmt::print("| transformer | whole sequence | failed: {} | | |\n", std::string(e.what()).substr(0, 80));
        }
    }
}

}  // namespace rmaat::bench
