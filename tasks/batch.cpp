#include "tasks/batch.hpp"

#include <algorithm>
#include <numeric>

#include <fmt/format.h>

namespace rmaat::tasks {

uint64_t SplitMix64::next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t SplitMix64::below(uint64_t n) {
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = next();
    while (x >= limit);
    return x % n;
}

double SplitMix64::uniform() {
    return static_cast<double>(next() >> 11) * 0x1.0p-53;
}

namespace {

template <typename T>
void shuffle(std::vector<T>& v, SplitMix64& rng) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.below(i)]);
}

int64_t round_up(int64_t n, int64_t multiple) {
    return multiple <= 1 ? n : (n + multiple - 1) / multiple * multiple;
}

}  // namespace

void make_batch(const Dataset& data, const std::vector<int64_t>& indices, int64_t pad_multiple, Batch& out) {
    out.B = static_cast<int64_t>(indices.size());
    int64_t L = 1, L2 = 1;
    for (int64_t i : indices) {
        L = std::max<int64_t>(L, static_cast<int64_t>(data.examples[i].tokens.size()));
        L2 = std::max<int64_t>(L2, static_cast<int64_t>(data.examples[i].tokens2.size()));
    }
    out.L = round_up(L, pad_multiple);
    out.L2 = data.pair ? round_up(L2, pad_multiple) : 0;
    out.tokens.assign(out.B * out.L, 0);
    out.mask.assign(out.B * out.L, 0);
    out.tokens2.assign(out.B * out.L2, 0);
    out.mask2.assign(out.B * out.L2, 0);
    out.labels.resize(out.B);
    out.lengths.resize(out.B);
    out.lengths2.assign(out.B, 0);
    out.index = indices;
    for (int64_t b = 0; b < out.B; ++b) {
        const Example& e = data.examples[indices[b]];
        std::copy(e.tokens.begin(), e.tokens.end(), out.tokens.begin() + b * out.L);
        std::fill_n(out.mask.begin() + b * out.L, e.tokens.size(), 1);
        out.lengths[b] = static_cast<int64_t>(e.tokens.size());
        if (data.pair) {
            std::copy(e.tokens2.begin(), e.tokens2.end(), out.tokens2.begin() + b * out.L2);
            std::fill_n(out.mask2.begin() + b * out.L2, e.tokens2.size(), 1);
            out.lengths2[b] = static_cast<int64_t>(e.tokens2.size());
        }
        out.labels[b] = e.label;
    }
}

Batcher::Batcher(const Dataset& data, const BatcherOptions& opt) : data_(&data), opt_(opt) {
    if (opt_.batch_size < 1) throw InputError(fmt::format("batch_size = {} must be >= 1", opt_.batch_size));
    if (opt_.pad_multiple < 1) throw InputError(fmt::format("pad_multiple = {} must be >= 1", opt_.pad_multiple));
    if (opt_.bucket_batches < 1) throw InputError(fmt::format("bucket_batches = {} must be >= 1", opt_.bucket_batches));
    if (data.examples.empty()) throw InputError(fmt::format("{}: the data set holds no example", data.source));
    make_plan(0);
}

void Batcher::make_plan(int64_t epoch) {
    pos_ = {epoch, 0};
    plan_.clear();
    const int64_t n = static_cast<int64_t>(data_->examples.size()), bs = opt_.batch_size;
    std::vector<int64_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    auto cut = [&](const std::vector<int64_t>& idx) {
        for (size_t i = 0; i < idx.size(); i += bs) {
            const size_t end = std::min(idx.size(), i + static_cast<size_t>(bs));
            if (opt_.drop_last && static_cast<int64_t>(end - i) < bs) break;
            plan_.emplace_back(idx.begin() + i, idx.begin() + end);
        }
    };
    if (!opt_.shuffle) {
        cut(order);
        return;
    }
    // One stream per epoch: the plan depends on (seed, epoch) only.
    SplitMix64 rng(opt_.seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(epoch) + 1);
    shuffle(order, rng);
    const int64_t pool = bs * opt_.bucket_batches;
    auto length = [&](int64_t i) { return data_->examples[i].tokens.size() + data_->examples[i].tokens2.size(); };
    for (int64_t p = 0; p < n; p += pool) {
        std::vector<int64_t> part(order.begin() + p, order.begin() + std::min(n, p + pool));
        std::stable_sort(part.begin(), part.end(), [&](int64_t a, int64_t b) { return length(a) < length(b); });
        cut(part);
    }
    shuffle(plan_, rng);
}

bool Batcher::next(Batch& out) {
    if (pos_.batch >= static_cast<int64_t>(plan_.size())) {
        make_plan(pos_.epoch + 1);
        return false;
    }
    make_batch(*data_, plan_[pos_.batch], opt_.pad_multiple, out);
    ++pos_.batch;
    return true;
}

void slice_batch(const Batch& b, int64_t begin, int64_t end, Batch& out) {
    if (begin < 0 || end < begin || end > b.B)
        throw InputError(fmt::format("batch slice [{}, {}) of a batch of {} rows", begin, end, b.B));
    auto rows = [&](const auto& v, int64_t width, auto& dst) {
        dst.assign(v.begin() + begin * width, v.begin() + end * width);
    };
    out.B = end - begin;
    out.L = b.L;
    out.L2 = b.L2;
    rows(b.tokens, b.L, out.tokens);
    rows(b.mask, b.L, out.mask);
    rows(b.tokens2, b.tokens2.empty() ? 0 : b.L2, out.tokens2);
    rows(b.mask2, b.mask2.empty() ? 0 : b.L2, out.mask2);
    rows(b.labels, 1, out.labels);
    rows(b.lengths, 1, out.lengths);
    rows(b.lengths2, b.lengths2.empty() ? 0 : 1, out.lengths2);
    rows(b.index, 1, out.index);
}

void Batcher::restore(const BatchPosition& p) {
    if (p.epoch < 0 || p.batch < 0) throw InputError(fmt::format("bad data position ({}, {})", p.epoch, p.batch));
    make_plan(p.epoch);
    if (p.batch > static_cast<int64_t>(plan_.size()))
        throw InputError(fmt::format("data position: epoch {} has {} batches, not {}", p.epoch, plan_.size(), p.batch));
    pos_ = p;
}

}  // namespace rmaat::tasks
