#pragma once
// The keyed dropout stream on the CPU (docs/design.md section 5.4), shared by the kernels that draw
// masks (kernels/dropout.cpp, kernels/gelu_dropout.cpp): the Philox words of consecutive elements,
// element i's word being w_i of kernels/dropout.hpp, in chunks split across torch's threads.
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>

#include "kernels/dropout.hpp"
#include "kernels/philox.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#endif

namespace rmaat::kernels::detail {

// The key as an autograd Function's apply() passes it (int64 arguments), kept in its context with p for
// the backward, and read back there.
DropoutKey key_of(int64_t seed, int64_t step, int64_t segment, int64_t layer, int64_t site);
void save_key(torch::autograd::AutogradContext* ctx, double p, const DropoutKey& key);
DropoutKey saved_key(torch::autograd::AutogradContext* ctx);
double saved_p(torch::autograd::AutogradContext* ctx);

// The stream of `k` with keep threshold ceil(p 2^32) (TORCH_CHECK p in [0, 1)).
DropoutStream make_stream(const DropoutKey& k, double p);

// Whether this CPU runs the AVX2 paths (checked once).
bool have_avx2();

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// The keep mask of 8 elements as AVX2 lanes (all bits set = keep): from their words (w >= thr,
// unsigned: max(w, thr) == w), or from their saved byte of bits (bit l = element l).
__attribute__((target("avx2"))) inline __m256 keep_of_words(const uint32_t* w, __m256i thr) {
    const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w));
    return _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_max_epu32(wv, thr), wv));
}
__attribute__((target("avx2"))) inline __m256 keep_of_byte(uint8_t byte) {
    const __m256i sel = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(byte), sel), sel));
}
#endif

// Philox of kLanes consecutive blocks j0 .. j0 + kLanes - 1, the words in element order:
// w[4 l + r] = stream_block(s, j0 + l).w[r] (AVX2 where the CPU has it, bitwise the scalar).
constexpr int kLanes = 16;
void philox_lanes(uint64_t j0, const DropoutStream& s, uint32_t* w);

// The keep mask of a forward pass as bits (bit i % 8 of byte i / 8), saved for its backward so that
// the backward needs no second Philox pass: 1/32 of the activation's memory in float32.
// The scale of a kept element, 1 / (1 - p); 0 where the threshold is 2^32 (nothing is kept).
double kept_scale(double p);
torch::Tensor empty_bits(int64_t numel);  // uint8 [ceil(numel / 8)]
// Bits of elements [i0, i0 + n) of one chunk (i0 a multiple of 8): keep = w >= thr.
void store_bits(const uint32_t* w, int64_t n, uint32_t thr, uint8_t* bits_at_i0);
// out = g keep kept, keep from `bits` (one pass; differentiable in g, by the same product).
torch::Tensor masked_scale(const torch::Tensor& g, const torch::Tensor& bits, double kept);

// f(i0, n, w): the words w[0, n) of elements [i0, i0 + n), every element i < numel once, in chunks
// of 4 kLanes (64) elements split across threads (a chunk never straddles two threads).
template <class F>
void for_each_chunk(const DropoutStream& s, int64_t numel, const F& f) {
    constexpr int64_t chunk = 4 * kLanes;
    const int64_t chunks = (numel + chunk - 1) / chunk;
    at::parallel_for(0, chunks, 256, [&](int64_t c_begin, int64_t c_end) {
        alignas(64) uint32_t w[chunk];
        for (int64_t c = c_begin; c < c_end; ++c) {
            philox_lanes(static_cast<uint64_t>(c) * kLanes, s, w);
            const int64_t i0 = c * chunk;
            f(i0, std::min<int64_t>(chunk, numel - i0), w);
        }
    });
}

}  // namespace rmaat::kernels::detail
