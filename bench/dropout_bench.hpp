#pragma once
// Keyed dropout benchmark (docs/design.md sections 5.4, 6.1 and 8): CPU forward + backward time of
// kernels::keyed_dropout (Philox4x32-10, mask regenerated in backward) against torch::dropout
// (Bernoulli mask, saved for backward) on one [B, N, d] tensor, and the share of dropout in one
// training step of a model (AMRB step with p vs the same step with p = 0). Prints a Markdown table;
// `rmaat bench dropout` calls this. The header does not include LibTorch, so the CLI compiles
// without it.
#include <string>
#include <vector>

namespace rmaat::bench {

struct DropoutBenchOptions {
    std::vector<long> shape{32, 1024, 128};  // the tensor [B, N, d]
    double p = 0.1;
    long repeats = 5;  // best of, after one warm-up run
    int threads = 0;   // torch intra-op threads; 0: torch's default
    bool step = true;  // also time a training step of a model (B = shape[0], L = shape[1], d = shape[2])
    std::string kind = "rmaat";
    std::string backprop = "amrb";
    long segment_length = 128;
};

// Runs the benchmark and prints the tables to stdout.
void run_dropout_bench(const DropoutBenchOptions& opt);

}  // namespace rmaat::bench
