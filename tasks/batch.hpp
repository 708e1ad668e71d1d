#pragma once
// Batches with bucketing, a seeded shuffle and an exact position (docs/design.md section 6.3).
//
// Each epoch has a plan that depends only on (seed, epoch): the examples are shuffled (a portable
// Fisher-Yates on SplitMix64, identical on every standard library), cut into pools of
// `bucket_batches` batches, each pool is sorted by length and cut into batches, and the batches are
// shuffled again. So short samples are batched with short ones and pay only for their own length,
// padded to a multiple of `pad_multiple` (the segment length). The position is (epoch, batch index):
// saving it and restoring it gives the same next batch (the trainer's resume depends on it).
#include <cstdint>
#include <vector>

#include "tasks/dataset.hpp"

namespace rmaat::tasks {

struct Batch {
    int64_t B = 0, L = 0, L2 = 0;   // batch size; padded lengths of the first and second documents
    std::vector<int32_t> tokens;    // [B x L] row-major; 0 = padding
    std::vector<uint8_t> mask;      // [B x L]; 1 = real token
    std::vector<int32_t> tokens2;   // [B x L2] (pair tasks), else empty
    std::vector<uint8_t> mask2;     // [B x L2]
    std::vector<int64_t> labels;    // [B]
    std::vector<int64_t> lengths;   // [B] real tokens of the first document
    std::vector<int64_t> lengths2;  // [B]
    std::vector<int64_t> index;     // [B] example indices in the dataset
};

struct BatcherOptions {
    int64_t batch_size = 32;
    int64_t pad_multiple = 1;  // pad L up to a multiple of this (the segment length)
    bool shuffle = true;       // false: dataset order, no bucketing (evaluation)
    uint64_t seed = 1;
    int64_t bucket_batches = 50;  // batches per sorting pool
    bool drop_last = false;       // drop a last, smaller batch
};

struct BatchPosition {
    int64_t epoch = 0;
    int64_t batch = 0;  // next batch of the epoch's plan
};

class Batcher {
public:
    Batcher(const Dataset& data, const BatcherOptions& opt);  // InputError on bad options

    // The next batch; false at the end of the epoch (the position then moves to the next epoch).
    bool next(Batch& out);
    BatchPosition position() const { return pos_; }
    void restore(const BatchPosition& p);  // InputError when the epoch's plan has no such batch
    int64_t batches_per_epoch() const { return static_cast<int64_t>(plan_.size()); }

private:
    void make_plan(int64_t epoch);
    const Dataset* data_;
    BatcherOptions opt_;
    BatchPosition pos_;
    std::vector<std::vector<int64_t>> plan_;  // batches of example indices for pos_.epoch
};

// Fills `out` with the given examples (padding to multiples of pad_multiple). Exposed for tests.
void make_batch(const Dataset& data, const std::vector<int64_t>& indices, int64_t pad_multiple, Batch& out);

// Rows [begin, end) of `b`, padded as `b` is (same L, L2): a data-parallel rank's share of a global
// batch keeps the global batch's segment count, so W ranks see exactly what one process would.
void slice_batch(const Batch& b, int64_t begin, int64_t end, Batch& out);

// SplitMix64: the portable generator behind shuffles and generators.
struct SplitMix64 {
    uint64_t state;
    explicit SplitMix64(uint64_t seed) : state(seed) {}
    uint64_t next();
    uint64_t below(uint64_t n);  // uniform in [0, n), n > 0 (rejection sampling, no modulo bias)
    double uniform();            // [0, 1), 53 bits
};

}  // namespace rmaat::tasks
