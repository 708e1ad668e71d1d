#pragma once
// Simulator benchmarks (docs/design.md section 8, issue 2): network model at several sizes on the dense and fast
// coupling paths, and the calcium model at a given input rate. Prints a Markdown table that names
// the configuration of every figure; `rmaat bench sim` and bench/run_sim_bench.sh call this.
#include <string>
#include <vector>

namespace rmaat::bench {

struct SimBenchOptions {
    std::vector<long> sides{3, 16, 64};  // n_pre = n_post = side
    std::vector<std::string> paths{"dense", "fast"};
    std::string method = "dopri5";  // or rk4 (fixed step dt_s)
    double dt_s = 1e-3;             // rk4 step
    long cycles = 1;                // STP cycles (5 s simulated each)
    long repeats = 3;               // best of
    double calcium_rate_hz = 10.0;
    double calcium_duration_s = 300.0;
    bool calcium = true;
};

// Runs the benchmarks and prints the table to stdout.
void run_sim_bench(const SimBenchOptions& opt);

}  // namespace rmaat::bench
