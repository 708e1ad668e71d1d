#include "kernels/dropout.hpp"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

namespace rmaat::kernels {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

inline Philox4x32 philox(Philox4x32 c, std::array<uint32_t, 2> k) {
    for (int round = 0; round < 10; ++round) {
        if (round > 0) {
            k[0] += 0x9E3779B9u;
            k[1] += 0xBB67AE85u;
        }
        const uint64_t p0 = uint64_t{0xD2511F53u} * c[0];
        const uint64_t p1 = uint64_t{0xCD9E8D57u} * c[2];
        c = {static_cast<uint32_t>(p1 >> 32) ^ c[1] ^ k[0], static_cast<uint32_t>(p1),
             static_cast<uint32_t>(p0 >> 32) ^ c[3] ^ k[1], static_cast<uint32_t>(p0)};
    }
    return c;
}

// splitmix64's finaliser: a bijection of 64 bits with full avalanche.
inline uint64_t mix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// The Philox key is the seed itself; (step, segment, layer, site) are hashed into the upper half of
// the counter, the element block index fills the lower half (2^64 blocks per stream). Two distinct
// sites collide with probability 2^-64.
struct Stream {
    std::array<uint32_t, 2> key{};
    uint32_t s_lo = 0, s_hi = 0;
    uint64_t threshold = 0;  // keep iff w >= ceil(p 2^32), i.e. u = w 2^-32 >= p
};

Stream make_stream(const DropoutKey& k, double p) {
    TORCH_CHECK(p >= 0 && p < 1, "dropout: p must be in [0, 1), got ", p);
    Stream s;
    s.key = {static_cast<uint32_t>(k.seed), static_cast<uint32_t>(k.seed >> 32)};
    uint64_t h = mix64(static_cast<uint64_t>(k.step));
    h = mix64(h ^ static_cast<uint64_t>(k.segment));
    h = mix64(h ^ ((static_cast<uint64_t>(static_cast<uint32_t>(k.layer)) << 32) | static_cast<uint32_t>(k.site)));
    s.s_lo = static_cast<uint32_t>(h);
    s.s_hi = static_cast<uint32_t>(h >> 32);
    s.threshold = static_cast<uint64_t>(std::ceil(std::ldexp(p, 32)));  // exact: p 2^32 scales the exponent only
    return s;
}

// f(i, keep) for every element i < numel, 4 elements per Philox call, blocks split across threads.
template <class F>
void for_each_keep(const Stream& s, int64_t numel, const F& f) {
    const int64_t blocks = (numel + 3) / 4;
    at::parallel_for(0, blocks, 4096, [&](int64_t b0, int64_t b1) {
        for (int64_t j = b0; j < b1; ++j) {
            const auto u = static_cast<uint64_t>(j);
            const Philox4x32 w =
                philox({static_cast<uint32_t>(u), static_cast<uint32_t>(u >> 32), s.s_lo, s.s_hi}, s.key);
            const int64_t i0 = 4 * j, n = std::min<int64_t>(4, numel - i0);
            for (int64_t l = 0; l < n; ++l) f(i0 + l, w[l] >= s.threshold);
        }
    });
}

// y = x keep / (1 - p): one pass on the CPU; elsewhere the CPU mask copied to x's device.
torch::Tensor apply_mask(const torch::Tensor& x_in, double p, const DropoutKey& key) {
    const Stream s = make_stream(key, p);
    const double scale = 1.0 / (1.0 - p);
    if (!x_in.device().is_cpu()) {
        const auto acc = x_in.scalar_type() == torch::kDouble ? torch::kDouble : torch::kFloat;
        const auto mask = dropout_mask(key, x_in.numel(), p).to(x_in.device()).view(x_in.sizes());
        return (x_in.to(acc) * mask.to(acc) * scale).to(x_in.scalar_type());
    }
    const auto x = x_in.contiguous();
    auto y = torch::empty_like(x, torch::MemoryFormat::Contiguous);
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, x.scalar_type(), "keyed_dropout", [&] {
        using acc_t = std::conditional_t<std::is_same_v<scalar_t, double>, double, float>;
        const auto sc = static_cast<acc_t>(scale);
        const scalar_t* xp = x.data_ptr<scalar_t>();
        scalar_t* yp = y.data_ptr<scalar_t>();
        // x * 0 rather than 0, so a non-finite input stays visible exactly as on other devices.
        for_each_keep(s, x.numel(), [&](int64_t i, bool keep) {
            yp[i] = static_cast<scalar_t>(static_cast<acc_t>(xp[i]) * (keep ? sc : acc_t(0)));
        });
    });
    return y;
}

DropoutKey key_from(AutogradContext* ctx) {
    DropoutKey k;
    k.seed = static_cast<uint64_t>(ctx->saved_data["seed"].toInt());
    k.step = ctx->saved_data["step"].toInt();
    k.segment = ctx->saved_data["segment"].toInt();
    k.layer = static_cast<int32_t>(ctx->saved_data["layer"].toInt());
    k.site = static_cast<int32_t>(ctx->saved_data["site"].toInt());
    return k;
}

// Saves the key and p only; backward is the same masked scaling of the gradient (itself this
// Function, so double backward works too).
struct KeyedDropoutFunction : public torch::autograd::Function<KeyedDropoutFunction> {
    static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, double p, int64_t seed, int64_t step,
                                 int64_t segment, int64_t layer, int64_t site) {
        ctx->saved_data["p"] = p;
        ctx->saved_data["seed"] = seed;
        ctx->saved_data["step"] = step;
        ctx->saved_data["segment"] = segment;
        ctx->saved_data["layer"] = layer;
        ctx->saved_data["site"] = site;
        return apply_mask(x, p,
                          DropoutKey{static_cast<uint64_t>(seed), step, segment, static_cast<int32_t>(layer),
                                     static_cast<int32_t>(site)});
    }

    static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
        const DropoutKey k = key_from(ctx);
        const double p = ctx->saved_data["p"].toDouble();
        torch::Tensor gx;
        if (grads[0].defined())
            gx = KeyedDropoutFunction::apply(grads[0], p, static_cast<int64_t>(k.seed), k.step, k.segment,
                                             int64_t{k.layer}, int64_t{k.site});
        return {gx, {}, {}, {}, {}, {}, {}};
    }
};

}  // namespace

Philox4x32 philox4x32_10(Philox4x32 counter, std::array<uint32_t, 2> key) {
    return philox(counter, key);
}

torch::Tensor keyed_dropout(const torch::Tensor& x, double p, const DropoutKey& key, bool training) {
    TORCH_CHECK(p >= 0 && p < 1, "dropout: p must be in [0, 1), got ", p);
    if (!training || p == 0) return x;
    TORCH_CHECK(x.is_floating_point(), "dropout: x must be a floating-point tensor, got ", x.scalar_type());
    return KeyedDropoutFunction::apply(x, p, static_cast<int64_t>(key.seed), key.step, key.segment, int64_t{key.layer},
                                       int64_t{key.site});
}

torch::Tensor dropout_mask(const DropoutKey& key, int64_t numel, double p) {
    TORCH_CHECK(numel >= 0, "dropout_mask: numel must be >= 0");
    const Stream s = make_stream(key, p);
    auto mask = torch::empty({numel}, torch::TensorOptions().dtype(torch::kBool));
    bool* mp = mask.data_ptr<bool>();
    for_each_keep(s, numel, [&](int64_t i, bool keep) { mp[i] = keep; });
    return mask;
}

}  // namespace rmaat::kernels
