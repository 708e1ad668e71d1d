#include "bench/sim_bench.hpp"

#include <chrono>
#include <cmath>
#include <thread>

#include <fmt/format.h>

#include "core/log.hpp"
#include "sim/calcium/calcium_model.hpp"
#include "sim/network/network_model.hpp"
#include "sim/recorder.hpp"

namespace rmaat::bench {

namespace {

// Keeps only what a benchmark needs: no recording cost in the timings.
class NullRecorder : public sim::Recorder {
public:
    void add_stream(const std::string&, const std::vector<sim::Column>&) override {}
    void append(const std::string&, double, const double*) override {}
    void summary(const std::string&, double, const std::string&) override {}
    void array(const std::string&, const Eigen::MatrixXd&, const std::string&) override {}
    void info(const std::string&, const std::string&) override {}
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

void run_sim_bench(const SimBenchOptions& opt) {
    fmt::print(
        "## Network model: {} cycle(s) of the fixed protocol (t_on 2 s, t_off 3 s), defaults, "
        "integrator {}{}, best of {}\n\n",
        opt.cycles, opt.method, opt.method == "rk4" ? fmt::format(" dt {} s", opt.dt_s) : " rtol 1e-6 atol 1e-8",
        opt.repeats);
    fmt::print(
        "| grid | synapses | path | method | build s | wall s | sim s / wall s | steps | synapse-steps / s | "
        "rel. error vs dense | p(end) |\n");
    fmt::print("|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (long side : opt.sides) {
        double dense_wall = NAN, dense_p = NAN;
        for (const auto& path : opt.paths) {
            sim::NetworkRunConfig c;
            c.geometry = sim::Geometry::grid(side, side, 1.0);
            c.cycles = opt.cycles;
            c.record_full = false;
            c.record_dt_s = 1.0;
            c.integrator.method = opt.method;
            c.integrator.dt_s = opt.dt_s;
            c.coupling.path = path == "dense" ? sim::CouplingOptions::Path::dense : sim::CouplingOptions::Path::fast;
            double best = INFINITY, build = 0;
            sim::NetworkSummary s;
            double err = NAN;
            for (long r = 0; r < opt.repeats; ++r) {
                NullRecorder rec;
                const auto t0 = std::chrono::steady_clock::now();
                s = sim::run_network(c, rec);
                // The integration alone: the set-up (coupling, error check) is reported apart.
                best = std::min(best, seconds_since(t0) - s.setup_s);
                build = s.setup_s;
                err = s.coupling_rel_error;
            }
            const double sim_s = s.t_end_s;
            const double n_syn = double(side * side);
            const char* method = path == "dense" ? "dense" : "fft";
            fmt::print("| {}x{} | {} | {} | {} | {:.3f} | {:.3f} | {:.1f} | {} | {:.3g} | {} | {:.6f} |\n", side, side,
                       side * side, path, method, build, best, sim_s / best, s.steps, n_syn * s.steps / best,
                       path == "dense" ? "0 (reference)" : fmt::format("{:.2g}", err), s.ltp.back());
            if (path == "dense") dense_wall = best, dense_p = s.ltp.back();
            if (path == "fast" && std::isfinite(dense_wall))
                fmt::print("|  |  | **fast / dense speed-up** | | | | **{:.1f}x** | | | | |p diff {:.1e}|\n",
                           dense_wall / best, std::abs(s.ltp.back() - dense_p));
            std::fflush(stdout);
        }
    }
    if (opt.calcium) {
        sim::CalciumRunConfig c;
        c.protocol.rate_hz = opt.calcium_rate_hz;
        c.duration_s = opt.calcium_duration_s;
        c.record_dt_s = 0.01;
        double best = INFINITY;
        sim::CalciumSummary s{};
        for (long r = 0; r < opt.repeats; ++r) {
            NullRecorder rec;
            const auto t0 = std::chrono::steady_clock::now();
            s = sim::run_calcium(c, rec);
            best = std::min(best, seconds_since(t0));
        }
        fmt::print(
            "\n## Calcium model: {} Hz regular input, {} s simulated, dopri5 rtol {:g} atol {:g}, best of {}\n\n",
            opt.calcium_rate_hz, opt.calcium_duration_s, c.integrator.rel_tol, c.integrator.abs_tol, opt.repeats);
        fmt::print("| rate Hz | sim s | wall s | sim s / wall s | spikes | releases | steady mean Ca uM |\n");
        fmt::print("|---|---|---|---|---|---|---|\n");
        fmt::print("| {} | {} | {:.3f} | {:.0f} | {} | {} | {:.4f} |\n", opt.calcium_rate_hz, opt.calcium_duration_s,
                   best, opt.calcium_duration_s / best, s.n_spikes, s.n_releases, s.mean_ca_uM);
    }
    fmt::print("\nThreads: 1 (the simulator is single-threaded); hardware threads {}.\n",
               std::thread::hardware_concurrency());
}

}  // namespace rmaat::bench
