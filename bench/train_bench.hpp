#pragma once
// Training-step benchmark (docs/design.md sections 6.1 and 8): peak memory and time of one optimiser
// step (loss, gradients, no optimiser state) per model kind and gradient method, each variant in a
// process of its own so that its peak resident set is its own. Three tables:
//   1. AMRB vs BPTT (rmaat) at each length of --lengths;
//   2. AMRB and BPTT as the number of segments grows (--sweep-segments: L = T x segment length);
//   3. RMAAT + AMRB vs the baselines (rmt, rlt with BPTT; transformer, at, linear whole-sequence) at the
//      first length.
// `rmaat bench train` calls this; the header does not include LibTorch.
#include <string>
#include <vector>

namespace rmaat::bench {

struct TrainBenchOptions {
    std::vector<long> lengths{2048, 8192};
    std::vector<long> sweep_segments{8, 16, 32, 64};
    long batch = 2;
    long d_model = 64;
    long segment_length = 128;
    double dropout = 0.1;
    long steps = 3;   // timed steps after one warm-up (best is reported)
    int threads = 0;  // torch intra-op threads; 0: torch's default
    bool baselines = true;
    std::string variant;  // internal: "kind:backprop:length" runs one variant in this process
};

// Runs the benchmark (or one variant) and prints the tables to stdout.
void run_train_bench(const TrainBenchOptions& opt);

}  // namespace rmaat::bench
