// tasks/: the Dataset contract and the Batcher (bucketing, seeded shuffle, exact position).
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "tasks/batch.hpp"
#include "tasks/dataset.hpp"
#include "tests/catch.hpp"

using namespace rmaat::tasks;

namespace {

// Examples of lengths 1..n (tokens 1..len), labels len % 3, vocabulary of 64 symbols.
Dataset toy(int n, bool pair = false) {
    Dataset d;
    d.task = "toy";
    d.source = "toy";
    d.vocab.name = "toy";
    for (int i = 0; i < 64; ++i) d.vocab.symbols.push_back(i == 0 ? "<pad>" : std::to_string(i));
    d.n_classes = 3;
    d.pair = pair;
    SplitMix64 rng(7);
    for (int i = 0; i < n; ++i) {
        Example e;
        const int len = 1 + int(rng.below(60));
        for (int t = 0; t < len; ++t) e.tokens.push_back(1 + t);
        if (pair) e.tokens2.assign(1 + size_t(rng.below(9)), 5);
        e.label = len % 3;
        d.examples.push_back(e);
    }
    d.validate();
    return d;
}

std::vector<std::vector<int64_t>> epoch_of(Batcher& b) {
    std::vector<std::vector<int64_t>> out;
    Batch batch;
    while (b.next(batch)) out.push_back(batch.index);
    return out;
}

}  // namespace

TEST_CASE("batches: real tokens exactly where the mask is 1, padding 0 up to a multiple of the segment",
          "[tasks]") {
    for (const bool pair : {false, true}) {
        const Dataset d = toy(103, pair);
        Batcher b(d, {8, 16, true, 3, 4, false});
        Batch batch;
        std::multiset<int64_t> seen;
        while (b.next(batch)) {
            CHECK(batch.L % 16 == 0);
            for (int64_t i = 0; i < batch.B; ++i) {
                const Example& e = d.examples[batch.index[i]];
                seen.insert(batch.index[i]);
                CHECK(batch.lengths[i] == int64_t(e.tokens.size()));
                CHECK(batch.labels[i] == e.label);
                for (int64_t t = 0; t < batch.L; ++t) {
                    const bool real = t < batch.lengths[i];
                    CHECK(batch.mask[i * batch.L + t] == (real ? 1 : 0));
                    CHECK(batch.tokens[i * batch.L + t] == (real ? e.tokens[t] : 0));
                }
                if (pair) {
                    CHECK(batch.L2 % 16 == 0);
                    for (int64_t t = 0; t < batch.L2; ++t)
                        CHECK(batch.mask2[i * batch.L2 + t] == (t < int64_t(e.tokens2.size()) ? 1 : 0));
                }
            }
        }
        CHECK(seen.size() == d.examples.size());  // every example once per epoch
        CHECK(std::set<int64_t>(seen.begin(), seen.end()).size() == d.examples.size());
    }
}

TEST_CASE("bucketing: batches hold similar lengths, so padding is far below unbucketed batching", "[tasks]") {
    const Dataset d = toy(800);
    auto padding = [&](bool shuffle, int64_t pool) {
        Batcher b(d, {16, 1, shuffle, 5, pool, false});
        Batch batch;
        int64_t pad = 0;
        while (b.next(batch))
            for (int64_t i = 0; i < batch.B; ++i) pad += batch.L - batch.lengths[i];
        return pad;
    };
    const int64_t bucketed = padding(true, 50), unbucketed = padding(true, 1);
    INFO("padding tokens: bucketed " << bucketed << ", one batch per pool " << unbucketed);
    CHECK(bucketed * 5 < unbucketed);
}

TEST_CASE("shuffle: the same seed gives the same epochs, another seed another order", "[tasks]") {
    const Dataset d = toy(200);
    Batcher a(d, {8, 1, true, 11, 4, false}), b(d, {8, 1, true, 11, 4, false}), c(d, {8, 1, true, 12, 4, false});
    const auto a0 = epoch_of(a), b0 = epoch_of(b), c0 = epoch_of(c);
    CHECK(a0 == b0);
    CHECK(a0 != c0);
    const auto a1 = epoch_of(a);
    CHECK(a1 != a0);  // a new plan per epoch
    CHECK(a.position().epoch == 2);
}

TEST_CASE("position: saving and restoring it gives the same next batch, also in a later epoch", "[tasks]") {
    const Dataset d = toy(150);
    Batcher a(d, {7, 4, true, 21, 3, false});
    Batch x, y;
    epoch_of(a);  // into epoch 1
    for (int i = 0; i < 5; ++i) REQUIRE(a.next(x));
    const BatchPosition saved = a.position();
    REQUIRE(a.next(x));
    Batcher b(d, {7, 4, true, 21, 3, false});
    b.restore(saved);
    REQUIRE(b.next(y));
    CHECK(x.index == y.index);
    CHECK(x.tokens == y.tokens);
    CHECK_THROWS_AS(b.restore({1, 10000}), rmaat::InputError);
}

TEST_CASE("no shuffle: dataset order, last batch smaller unless dropped", "[tasks]") {
    const Dataset d = toy(10);
    Batcher a(d, {4, 1, false, 1, 50, false});
    const auto e = epoch_of(a);
    REQUIRE(e.size() == 3);
    CHECK(e[0] == std::vector<int64_t>{0, 1, 2, 3});
    CHECK(e[2] == std::vector<int64_t>{8, 9});
    Batcher b(d, {4, 1, false, 1, 50, true});
    CHECK(epoch_of(b).size() == 2);
}

TEST_CASE("a dataset that breaks its vocabulary, labels or pairing is refused, naming the source", "[tasks]") {
    Dataset d = toy(5);
    d.source = "bad.tsv";
    d.examples[2].tokens.push_back(64);
    CHECK_THROWS_WITH(d.validate(), ContainsSubstring("bad.tsv") && ContainsSubstring("token id 64"));
    d = toy(5);
    d.examples[1].label = 3;
    CHECK_THROWS_WITH(d.validate(), ContainsSubstring("label 3 outside [0, 3)"));
    d = toy(5);
    d.examples[0].tokens.clear();
    CHECK_THROWS_AS(d.validate(), DataError);
    CHECK_THROWS_AS(Batcher(Dataset{}, {}), rmaat::InputError);
}
