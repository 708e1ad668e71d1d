#pragma once
// Attention layer benchmark (docs/design.md sections 5.1 and 8): CPU forward + backward time per token of one attention layer
// and one encoder layer, astromorphic vs softmax, at several sequence lengths. Prints a Markdown
// table naming the configuration of every figure; `rmaat bench layers` calls this. The header does not
// include LibTorch, so the CLI compiles without it.
#include <string>
#include <vector>

namespace rmaat::bench {

struct LayersBenchOptions {
    std::vector<long> sizes{512, 2048, 8192};  // sequence lengths N
    std::vector<std::string> kinds{"astro", "softmax"};
    long batch = 1;
    long d_model = 128;
    long n_heads = 4;
    long d_ff = 512;      // encoder layer
    long repeats = 3;     // best of, after one warm-up run
    int threads = 0;      // torch intra-op threads; 0: torch's default
    bool encoder = true;  // also time one EncoderLayer
    bool memory = true;   // approximate peak extra memory (RSS high-water mark)
    bool kernel = true;   // also time kernels::astro_attention against its plain-LibTorch reference
};

// Runs the benchmark and prints the table to stdout.
void run_layers_bench(const LayersBenchOptions& opt);

}  // namespace rmaat::bench
