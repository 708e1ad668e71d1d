#pragma once
// The counter-based dropout stream (docs/design.md sections 5.4 and 6.1), free of LibTorch and
// compiled by both the C++ compiler and nvcc, so the CPU path and the CUDA kernels draw the very same
// masks from one definition:
//
//   keep_i = [w_i >= threshold],   threshold = ceil(p 2^32)
//   w_{4j + l} = Philox4x32-10(counter = {j_lo, j_hi, s_lo, s_hi}, key = {seed_lo, seed_hi})[l]
//   (s_hi, s_lo) = mix64(mix64(mix64(step) ^ segment) ^ (layer << 32 | site))
//
// Philox4x32-10 is Salmon et al., "Parallel random numbers: as easy as 1, 2, 3" (SC'11), with the
// Random123 constants (multipliers 0xD2511F53, 0xCD9E8D57; key bumps 0x9E3779B9, 0xBB67AE85);
// mix64 is splitmix64's finaliser (a bijection of 64 bits with full avalanche).
#include <cstdint>

#if defined(__CUDACC__)
#define RMAAT_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define RMAAT_HOST_DEVICE inline
#endif

namespace rmaat::kernels {

struct PhiloxWords {
    uint32_t w[4];
};

RMAAT_HOST_DEVICE PhiloxWords philox4x32_10(PhiloxWords c, uint32_t k0, uint32_t k1) {
    for (int round = 0; round < 10; ++round) {
        if (round > 0) {
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        const uint64_t p0 = uint64_t{0xD2511F53u} * c.w[0];
        const uint64_t p1 = uint64_t{0xCD9E8D57u} * c.w[2];
        c = PhiloxWords{{static_cast<uint32_t>(p1 >> 32) ^ c.w[1] ^ k0, static_cast<uint32_t>(p1),
                         static_cast<uint32_t>(p0 >> 32) ^ c.w[3] ^ k1, static_cast<uint32_t>(p0)}};
    }
    return c;
}

RMAAT_HOST_DEVICE uint64_t mix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// One dropout site's stream: the Philox key is the seed itself; (step, segment, layer, site) are
// hashed into the upper half of the counter, the element block index fills the lower half (2^64
// blocks per stream). Two distinct sites collide with probability 2^-64.
struct DropoutStream {
    uint32_t key0 = 0, key1 = 0;
    uint32_t s_lo = 0, s_hi = 0;
    uint64_t threshold = 0;  // keep iff w >= threshold = ceil(p 2^32); 2^32 keeps nothing
};

RMAAT_HOST_DEVICE DropoutStream dropout_stream(uint64_t seed, int64_t step, int64_t segment, int32_t layer,
                                               int32_t site, uint64_t threshold) {
    DropoutStream s;
    s.key0 = static_cast<uint32_t>(seed);
    s.key1 = static_cast<uint32_t>(seed >> 32);
    uint64_t h = mix64(static_cast<uint64_t>(step));
    h = mix64(h ^ static_cast<uint64_t>(segment));
    h = mix64(h ^ ((static_cast<uint64_t>(static_cast<uint32_t>(layer)) << 32) | static_cast<uint32_t>(site)));
    s.s_lo = static_cast<uint32_t>(h);
    s.s_hi = static_cast<uint32_t>(h >> 32);
    s.threshold = threshold;
    return s;
}

// Block j of the stream: the Philox words of elements 4j .. 4j + 3.
RMAAT_HOST_DEVICE PhiloxWords stream_block(const DropoutStream& s, uint64_t j) {
    return philox4x32_10(PhiloxWords{{static_cast<uint32_t>(j), static_cast<uint32_t>(j >> 32), s.s_lo, s.s_hi}},
                         s.key0, s.key1);
}

}  // namespace rmaat::kernels
