#include "kernels/dropout.hpp"

#include "kernels/cuda_dispatch.hpp"
#include "kernels/philox.hpp"
#include "kernels/philox_cpu.hpp"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <type_traits>

namespace rmaat::kernels {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

using Stream = DropoutStream;  // kernels/philox.hpp: the one definition the CUDA kernels share
using detail::for_each_chunk;
using detail::have_avx2;
using detail::kLanes;
using detail::make_stream;

Philox4x32 words(const PhiloxWords& p) {
    return {p.w[0], p.w[1], p.w[2], p.w[3]};
}

// On AVX2 four blocks per vector (each 32-bit word in a 64-bit lane, so one _mm256_mul_epu32 gives
// four full 64-bit products); bitwise the scalar stream_block() of each block (kernels/philox.hpp),
// which the other CPUs run.
void philox_lanes_scalar(uint64_t j0, const Stream& s, uint32_t* w) {
    for (int l = 0; l < kLanes; ++l) {
        const PhiloxWords r = stream_block(s, j0 + static_cast<uint64_t>(l));
        for (int k = 0; k < 4; ++k) w[4 * l + k] = r.w[k];
    }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define RMAAT_PHILOX_AVX2 1
__attribute__((target("avx2"))) void philox_lanes_avx2(uint64_t j0, const Stream& s, uint32_t* w) {
    constexpr int G = kLanes / 4;
    const __m256i m0 = _mm256_set1_epi64x(0xD2511F53), m1 = _mm256_set1_epi64x(0xCD9E8D57);
    const __m256i low = _mm256_set1_epi64x(0xFFFFFFFF);
    __m256i c0[G], c1[G], c2[G], c3[G];
    for (int g = 0; g < G; ++g) {
        const auto j = static_cast<long long>(j0 + 4 * static_cast<uint64_t>(g));
        const __m256i jv = _mm256_add_epi64(_mm256_set1_epi64x(j), _mm256_set_epi64x(3, 2, 1, 0));
        c0[g] = _mm256_and_si256(jv, low);
        c1[g] = _mm256_srli_epi64(jv, 32);
        c2[g] = _mm256_set1_epi64x(s.s_lo);
        c3[g] = _mm256_set1_epi64x(s.s_hi);
    }
    uint32_t k0 = s.key0, k1 = s.key1;
    for (int round = 0; round < 10; ++round) {
        if (round > 0) {
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        const __m256i kv0 = _mm256_set1_epi64x(k0), kv1 = _mm256_set1_epi64x(k1);
        for (int g = 0; g < G; ++g) {
            const __m256i p0 = _mm256_mul_epu32(c0[g], m0);
            const __m256i p1 = _mm256_mul_epu32(c2[g], m1);
            c0[g] = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p1, 32), c1[g]), kv0);
            c1[g] = _mm256_and_si256(p1, low);
            c2[g] = _mm256_xor_si256(_mm256_xor_si256(_mm256_srli_epi64(p0, 32), c3[g]), kv1);
            c3[g] = _mm256_and_si256(p0, low);
        }
    }
    for (int g = 0; g < G; ++g) {
        // a = (c0, c1) and b = (c2, c3) per block, then blocks in order: a0 b0 a1 b1 | a2 b2 a3 b3.
        const __m256i a = _mm256_or_si256(c0[g], _mm256_slli_epi64(c1[g], 32));
        const __m256i b = _mm256_or_si256(c2[g], _mm256_slli_epi64(c3[g], 32));
        const __m256i lo = _mm256_unpacklo_epi64(a, b), hi = _mm256_unpackhi_epi64(a, b);  // a0 b0 a2 b2, a1 b1 a3 b3
        auto* out = reinterpret_cast<__m256i*>(w + 16 * g);
        _mm256_storeu_si256(out, _mm256_permute2x128_si256(lo, hi, 0x20));
        _mm256_storeu_si256(out + 1, _mm256_permute2x128_si256(lo, hi, 0x31));
    }
}

// n a multiple of 8: one byte of keep bits per 8 words.
__attribute__((target("avx2"))) void store_bits_avx2(const uint32_t* w, int64_t n, uint32_t thr, uint8_t* bits) {
    const __m256i t = _mm256_set1_epi32(static_cast<int>(thr));
    for (int64_t e = 0; e < n; e += 8)
        bits[e / 8] = static_cast<uint8_t>(_mm256_movemask_ps(detail::keep_of_words(w + e, t)));
}

// n a multiple of 8: y = x (keep ? kept : 0), keep from the words.
__attribute__((target("avx2"))) void apply_words_avx2(const float* x, const uint32_t* w, int64_t n, uint32_t thr,
                                                      float kept, float* y) {
    const __m256i t = _mm256_set1_epi32(static_cast<int>(thr));
    const __m256 k = _mm256_set1_ps(kept);
    for (int64_t e = 0; e < n; e += 8)
        _mm256_storeu_ps(y + e,
                         _mm256_mul_ps(_mm256_loadu_ps(x + e), _mm256_and_ps(detail::keep_of_words(w + e, t), k)));
}

// n a multiple of 8: y = g (keep ? kept : 0), keep from the bits (bit l of byte e / 8 is element e + l).
__attribute__((target("avx2"))) void apply_bits_avx2(const float* g, const uint8_t* bits, int64_t n, float kept,
                                                     float* y) {
    const __m256 k = _mm256_set1_ps(kept);
    for (int64_t e = 0; e < n; e += 8)
        _mm256_storeu_ps(y + e,
                         _mm256_mul_ps(_mm256_loadu_ps(g + e), _mm256_and_ps(detail::keep_of_byte(bits[e / 8]), k)));
}
#endif

// y[e] = x[e] (keep ? kept : 0) for e in [0, n), keep = w[e] >= thr (one chunk's words).
template <class scalar_t, class acc_t>
void apply_words(const scalar_t* x, const uint32_t* w, int64_t n, uint32_t thr, acc_t kept, scalar_t* y) {
    int64_t e = 0;
#ifdef RMAAT_PHILOX_AVX2
    if constexpr (std::is_same_v<scalar_t, float>) {
        if (have_avx2()) {
            e = n & ~int64_t{7};
            apply_words_avx2(x, w, e, thr, kept, y);
        }
    }
#endif
    // x * 0 rather than 0, so a non-finite input stays visible exactly as on other devices.
    for (; e < n; ++e) y[e] = static_cast<scalar_t>(static_cast<acc_t>(x[e]) * (w[e] >= thr ? kept : acc_t(0)));
}

// y[e] = g[e] (keep ? kept : 0) for e in [e, end), keep = bit e % 8 of bits[e / 8]; e a multiple of 8.
template <class scalar_t, class acc_t>
void apply_bits(const scalar_t* g, const uint8_t* bits, int64_t e, int64_t end, acc_t kept, scalar_t* y) {
#ifdef RMAAT_PHILOX_AVX2
    if constexpr (std::is_same_v<scalar_t, float>) {
        if (have_avx2()) {
            const int64_t n = (end - e) & ~int64_t{7};
            apply_bits_avx2(g + e, bits + e / 8, n, kept, y + e);
            e += n;
        }
    }
#endif
    for (; e < end; ++e)
        y[e] = static_cast<scalar_t>(static_cast<acc_t>(g[e]) * ((bits[e / 8] >> (e % 8)) & 1 ? kept : acc_t(0)));
}

// out = g (keep ? kept : 0) with keep from saved bits; its own backward is the same product, so a
// graph of the backward (double backward) works.
struct MaskedScaleFunction : public torch::autograd::Function<MaskedScaleFunction> {
    static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& g_in, const torch::Tensor& bits,
                                 double kept) {
        ctx->save_for_backward({bits});
        ctx->saved_data["kept"] = kept;
        const auto g = g_in.contiguous();
        auto y = torch::empty_like(g, torch::MemoryFormat::Contiguous);
        const uint8_t* bp = bits.data_ptr<uint8_t>();
        AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, g.scalar_type(), "masked_scale", [&] {
            using acc_t = std::conditional_t<std::is_same_v<scalar_t, double>, double, float>;
            const auto k = static_cast<acc_t>(kept);
            const scalar_t* gp = g.data_ptr<scalar_t>();
            scalar_t* yp = y.data_ptr<scalar_t>();
            // in blocks of 64 elements (8 bytes of bits), as the forward's chunks
            at::parallel_for(0, (g.numel() + 63) / 64, 256, [&](int64_t c0, int64_t c1) {
                apply_bits<scalar_t, acc_t>(gp, bp, 64 * c0, std::min(g.numel(), 64 * c1), k, yp);
            });
        });
        return y;
    }

    static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
        torch::Tensor gg;
        if (grads[0].defined())
            gg =
                MaskedScaleFunction::apply(grads[0], ctx->get_saved_variables()[0], ctx->saved_data["kept"].toDouble());
        return {gg, {}, {}};
    }
};

}  // namespace

namespace detail {

DropoutStream make_stream(const DropoutKey& k, double p) {
    TORCH_CHECK(p >= 0 && p < 1, "dropout: p must be in [0, 1), got ", p);
    // exact: p 2^32 scales the exponent only
    const auto threshold = static_cast<uint64_t>(std::ceil(std::ldexp(p, 32)));
    return dropout_stream(k.seed, k.step, k.segment, k.layer, k.site, threshold);
}

DropoutKey key_of(int64_t seed, int64_t step, int64_t segment, int64_t layer, int64_t site) {
    return {static_cast<uint64_t>(seed), step, segment, static_cast<int32_t>(layer), static_cast<int32_t>(site)};
}

void save_key(AutogradContext* ctx, double p, const DropoutKey& key) {
    ctx->saved_data["p"] = p;
    ctx->saved_data["seed"] = static_cast<int64_t>(key.seed);
    ctx->saved_data["step"] = key.step;
    ctx->saved_data["segment"] = key.segment;
    ctx->saved_data["layer"] = int64_t{key.layer};
    ctx->saved_data["site"] = int64_t{key.site};
}

DropoutKey saved_key(AutogradContext* ctx) {
    return key_of(ctx->saved_data["seed"].toInt(), ctx->saved_data["step"].toInt(), ctx->saved_data["segment"].toInt(),
                  ctx->saved_data["layer"].toInt(), ctx->saved_data["site"].toInt());
}

double saved_p(AutogradContext* ctx) {
    return ctx->saved_data["p"].toDouble();
}

bool have_avx2() {
#ifdef RMAAT_PHILOX_AVX2
    static const bool yes = __builtin_cpu_supports("avx2");
    return yes;
#else
    return false;
#endif
}

void philox_lanes(uint64_t j0, const DropoutStream& s, uint32_t* w) {
#ifdef RMAAT_PHILOX_AVX2
    if (have_avx2()) return philox_lanes_avx2(j0, s, w);
#endif
    philox_lanes_scalar(j0, s, w);
}

double kept_scale(double p) {
    return std::ceil(std::ldexp(p, 32)) > 4294967295.0 ? 0.0 : 1.0 / (1.0 - p);
}

torch::Tensor empty_bits(int64_t numel) {
    return torch::empty({(numel + 7) / 8}, torch::TensorOptions().dtype(torch::kUInt8));
}

void store_bits(const uint32_t* w, int64_t n, uint32_t thr, uint8_t* bits) {
    int64_t e = 0;
#ifdef RMAAT_PHILOX_AVX2
    if (have_avx2()) {
        e = n & ~int64_t{7};
        store_bits_avx2(w, e, thr, bits);
    }
#endif
    for (; e < n; e += 8) {
        uint8_t v = 0;
        for (int64_t l = 0; l < 8 && e + l < n; ++l) v |= static_cast<uint8_t>(w[e + l] >= thr) << l;
        bits[e / 8] = v;
    }
}

torch::Tensor masked_scale(const torch::Tensor& g, const torch::Tensor& bits, double kept) {
    TORCH_CHECK(g.device().is_cpu() && bits.scalar_type() == torch::kUInt8 && bits.numel() == (g.numel() + 7) / 8,
                "masked_scale: bits must be uint8 [ceil(", g.numel(), " / 8)], got ", bits.sizes());
    return MaskedScaleFunction::apply(g, bits, kept);
}

}  // namespace detail

namespace {

// y = x keep / (1 - p): one pass on the CPU, storing the keep bits too where `bits` is defined;
// elsewhere the CPU mask copied to x's device.
torch::Tensor apply_mask(const torch::Tensor& x_in, double p, const DropoutKey& key, const torch::Tensor& bits = {}) {
    const Stream s = make_stream(key, p);
    const double scale = 1.0 / (1.0 - p);
    if (cuda_dropout_applies(x_in)) return cuda_keyed_dropout(x_in, s, scale);  // the same masks on the GPU
    if (!x_in.device().is_cpu()) {
        const auto acc = x_in.scalar_type() == torch::kDouble ? torch::kDouble : torch::kFloat;
        const auto mask = dropout_mask(key, x_in.numel(), p).to(x_in.device()).view(x_in.sizes());
        return (x_in.to(acc) * mask.to(acc) * scale).to(x_in.scalar_type());
    }
    const auto x = x_in.contiguous();
    auto y = torch::empty_like(x, torch::MemoryFormat::Contiguous);
    uint8_t* bp = bits.defined() ? bits.data_ptr<uint8_t>() : nullptr;
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, x.scalar_type(), "keyed_dropout", [&] {
        using acc_t = std::conditional_t<std::is_same_v<scalar_t, double>, double, float>;
        const auto sc = static_cast<acc_t>(scale);
        const scalar_t* xp = x.data_ptr<scalar_t>();
        scalar_t* yp = y.data_ptr<scalar_t>();
        // In 32 bits for the vector loop; a threshold of 2^32 (p within 2^-32 of 1) keeps nothing.
        const bool none = s.threshold > 0xFFFFFFFFu;
        const auto thr = static_cast<uint32_t>(none ? 0 : s.threshold);
        const acc_t kept = none ? acc_t(0) : sc;
        for_each_chunk(s, x.numel(), [&](int64_t i0, int64_t n, const uint32_t* w) {
            if (bp) detail::store_bits(w, n, thr, bp + i0 / 8);
            apply_words<scalar_t, acc_t>(xp + i0, w, n, thr, kept, yp + i0);
        });
    });
    return y;
}

// Saves the key and p, and on the CPU the keep bits (`save_bits`: x needs a gradient), so that the
// backward is one product with them; without bits the backward regenerates the mask (itself this
// Function). Both are differentiable again (double backward).
struct KeyedDropoutFunction : public torch::autograd::Function<KeyedDropoutFunction> {
    static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, double p, int64_t seed, int64_t step,
                                 int64_t segment, int64_t layer, int64_t site, bool save_bits) {
        const DropoutKey key = detail::key_of(seed, step, segment, layer, site);
        detail::save_key(ctx, p, key);
        save_bits = save_bits && x.device().is_cpu();
        const torch::Tensor bits = save_bits ? detail::empty_bits(x.numel()) : torch::Tensor();
        ctx->saved_data["bits"] = save_bits;
        if (save_bits) ctx->save_for_backward({bits});
        return apply_mask(x, p, key, bits);
    }

    static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
        const DropoutKey k = detail::saved_key(ctx);
        const double p = detail::saved_p(ctx);
        torch::Tensor gx;
        if (grads[0].defined() && ctx->saved_data["bits"].toBool())
            gx = detail::masked_scale(grads[0], ctx->get_saved_variables()[0], detail::kept_scale(p));
        else if (grads[0].defined())
            gx = KeyedDropoutFunction::apply(grads[0], p, static_cast<int64_t>(k.seed), k.step, k.segment,
                                             int64_t{k.layer}, int64_t{k.site}, false);
        return {gx, {}, {}, {}, {}, {}, {}, {}};
    }
};

}  // namespace

Philox4x32 philox4x32_10(Philox4x32 counter, std::array<uint32_t, 2> key) {
    return words(kernels::philox4x32_10(PhiloxWords{{counter[0], counter[1], counter[2], counter[3]}}, key[0], key[1]));
}

Philox4x32 dropout_block(const DropoutKey& key, uint64_t j) {
    return words(stream_block(make_stream(key, 0.0), j));
}

torch::Tensor keyed_dropout(const torch::Tensor& x, double p, const DropoutKey& key, bool training) {
    TORCH_CHECK(p >= 0 && p < 1, "dropout: p must be in [0, 1), got ", p);
    if (!training || p == 0) return x;
    TORCH_CHECK(x.is_floating_point(), "dropout: x must be a floating-point tensor, got ", x.scalar_type());
    return KeyedDropoutFunction::apply(x, p, static_cast<int64_t>(key.seed), key.step, key.segment, int64_t{key.layer},
                                       int64_t{key.site}, x.requires_grad() && torch::GradMode::is_enabled());
}

torch::Tensor dropout_mask(const DropoutKey& key, int64_t numel, double p) {
    TORCH_CHECK(numel >= 0, "dropout_mask: numel must be >= 0");
    const Stream s = make_stream(key, p);
    auto mask = torch::empty({numel}, torch::TensorOptions().dtype(torch::kBool));
    bool* mp = mask.data_ptr<bool>();
    for_each_chunk(s, numel, [&](int64_t i0, int64_t n, const uint32_t* w) {
        for (int64_t e = 0; e < n; ++e) mp[i0 + e] = w[e] >= s.threshold;
    });
    return mask;
}

}  // namespace rmaat::kernels
