#pragma once
// Data benchmarks (docs/design.md sections 6.3 and 8): how fast the ListOps reader loads LRA's TSV
// and how long the generator takes to write the splits. Prints a Markdown table that names the
// configuration of every figure; `rmaat bench data` calls this.
#include <cstdint>
#include <string>

namespace rmaat::bench {

struct DataBenchOptions {
    int64_t samples = 2000;  // examples in the file the reader loads (ListOps 2K: lengths 500..2000)
    int64_t repeats = 3;     // reads of that file (best is reported)
    double fraction = 1.0;   // of the default split sizes 96k/2k/2k for the generation timing
    uint64_t seed = 1;
    std::string dir;  // where the files go ("" = a fresh directory under the system temp dir, removed)
};

// Runs the benchmarks and prints the table to stdout.
void run_data_bench(const DataBenchOptions& opt);

}  // namespace rmaat::bench
