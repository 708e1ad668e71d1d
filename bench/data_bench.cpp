#include "bench/data_bench.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>

#include "core/error.hpp"
#include "core/log.hpp"
#include "tasks/listops.hpp"

namespace rmaat::bench {

namespace {

namespace fs = std::filesystem;

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int64_t scaled(int64_t n, double fraction) {
    return std::max<int64_t>(1, std::llround(static_cast<double>(n) * fraction));
}

}  // namespace

void run_data_bench(const DataBenchOptions& opt) {
    if (opt.samples < 1 || opt.repeats < 1 || !(opt.fraction > 0 && opt.fraction <= 1))
        throw InputError("bench data: --samples and --repeats must be >= 1 and --fraction in (0, 1]");
    const bool temporary = opt.dir.empty();
    const fs::path dir =
        temporary ? fs::temp_directory_path() / fmt::format("rmaat-bench-data-{}", getpid()) : fs::path(opt.dir);
    fs::create_directories(dir);
    const tasks::ListOpsRules rules = tasks::listops_rules("basic");

    // 1. Reader: a ListOps 2K file of `samples` examples drawn with LRA's rules.
    const auto t_draw = std::chrono::steady_clock::now();
    const auto examples = tasks::generate_listops(rules, opt.samples, opt.seed, true);
    const double draw_s = seconds_since(t_draw);
    const std::string file = (dir / "bench_listops.tsv").string();
    tasks::write_listops_tsv(file, examples);
    const auto bytes = static_cast<double>(fs::file_size(file));
    double best = INFINITY;
    for (int64_t r = 0; r < opt.repeats; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        const tasks::Dataset d = tasks::read_listops_tsv(file);
        best = std::min(best, seconds_since(t0));
        if (static_cast<int64_t>(d.examples.size()) != opt.samples)
            throw RunError("bench data: read back a wrong count");
    }
    double tokens = 0;
    for (const auto& e : examples) tokens += static_cast<double>(e.tokens.size());

    // 2. Generator: the three splits at `fraction` of the default sizes, written as LRA's files.
    tasks::GenerateOptions g;
    g.out_dir = (dir / "splits").string();
    g.n_train = scaled(rules.n_train, opt.fraction);
    g.n_val = scaled(rules.n_val, opt.fraction);
    g.n_test = scaled(rules.n_test, opt.fraction);
    g.seed = opt.seed;
    g.force = true;
    const auto t_gen = std::chrono::steady_clock::now();
    const tasks::GenerateResult res = tasks::generate_listops_files(g);
    const double gen_s = seconds_since(t_gen);
    double gen_bytes = 0;
    for (const auto& f : res.files) gen_bytes += static_cast<double>(fs::file_size(f));
    const int64_t n_gen = g.n_train + g.n_val + g.n_test;

    fmt::print("## ListOps data (LRA rules: lengths in (500, 2000), depth <= 10, 2..10 arguments), seed {}\n\n",
               opt.seed);
    fmt::print("| what | examples | tokens (mean) | file MB | wall s | examples / s | MB / s |\n");
    fmt::print("|---|---|---|---|---|---|---|\n");
    fmt::print("| read_listops_tsv (best of {}) | {} | {:.0f} | {:.1f} | {:.3f} | {:.3g} | {:.0f} |\n", opt.repeats,
               opt.samples, tokens / double(opt.samples), bytes / 1e6, best, double(opt.samples) / best,
               bytes / 1e6 / best);
    fmt::print("| generate_listops ({} examples, in memory) | {} | {:.0f} | - | {:.3f} | {:.3g} | - |\n", opt.samples,
               opt.samples, tokens / double(opt.samples), draw_s, double(opt.samples) / draw_s);
    fmt::print(
        "| generate splits {}/{}/{} ({:g} of 96k/2k/2k), draw + write | {} | - | {:.1f} | {:.2f} | {:.3g} | {:.0f} |\n",
        g.n_train, g.n_val, g.n_test, opt.fraction, n_gen, gen_bytes / 1e6, gen_s, double(n_gen) / gen_s,
        gen_bytes / 1e6 / gen_s);
    if (temporary) {
        std::error_code ec;
        fs::remove_all(dir, ec);
    } else {
        log::info("files kept in {}", dir.string());
    }
}

}  // namespace rmaat::bench
