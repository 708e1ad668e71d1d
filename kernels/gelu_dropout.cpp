#include "kernels/gelu_dropout.hpp"

#include <ATen/Dispatch.h>

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "kernels/philox_cpu.hpp"

#include "kernels/vector_math.hpp"

namespace rmaat::kernels {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

constexpr double kRsqrt2 = 0.70710678118654752440;    // 1 / sqrt(2)
constexpr double kRsqrt2Pi = 0.39894228040143267794;  // 1 / sqrt(2 pi)

template <class T>
T gelu_of(T x) {
    return T(0.5) * x * (T(1) + std::erf(x * T(kRsqrt2)));
}
template <class T>
T gelu_slope(T x) {
    return T(0.5) * (T(1) + std::erf(x * T(kRsqrt2))) + x * std::exp(T(-0.5) * x * x) * T(kRsqrt2Pi);
}

#ifdef RMAAT_VECTOR_MATH
// y[0, n) for n a multiple of 8: gelu(x) (keep ? kept : 0).
__attribute__((target("avx2"))) void forward_avx2(const float* x, const uint32_t* w, int64_t n, uint32_t thr,
                                                  float kept, float* y) {
    const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
    const __m256 rs2 = _mm256_set1_ps(static_cast<float>(kRsqrt2)), k = _mm256_set1_ps(kept);
    const __m256i t = _mm256_set1_epi32(static_cast<int>(thr));
    for (int64_t e = 0; e < n; e += 8) {
        const __m256 xv = _mm256_loadu_ps(x + e);
        const __m256 g =
            _mm256_mul_ps(_mm256_mul_ps(half, xv), _mm256_add_ps(one, _ZGVdN8v_erff(_mm256_mul_ps(xv, rs2))));
        _mm256_storeu_ps(y + e, _mm256_mul_ps(g, _mm256_and_ps(detail::keep_of_words(w + e, t), k)));
    }
}

// dx[0, n) for n a multiple of 8: dy (keep ? kept : 0) gelu'(x), keep from the saved bits.
__attribute__((target("avx2"))) void backward_avx2(const float* dy, const float* x, const uint8_t* bits, int64_t n,
                                                   float kept, float* dx) {
    const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f), mhalf = _mm256_set1_ps(-0.5f);
    const __m256 rs2 = _mm256_set1_ps(static_cast<float>(kRsqrt2));
    const __m256 rs2pi = _mm256_set1_ps(static_cast<float>(kRsqrt2Pi)), k = _mm256_set1_ps(kept);
    for (int64_t e = 0; e < n; e += 8) {
        const __m256 xv = _mm256_loadu_ps(x + e);
        const __m256 cdf = _mm256_mul_ps(half, _mm256_add_ps(one, _ZGVdN8v_erff(_mm256_mul_ps(xv, rs2))));
        const __m256 pdf = _mm256_mul_ps(_ZGVdN8v_expf(_mm256_mul_ps(mhalf, _mm256_mul_ps(xv, xv))), rs2pi);
        const __m256 slope = _mm256_add_ps(cdf, _mm256_mul_ps(xv, pdf));
        const __m256 m = _mm256_mul_ps(_mm256_loadu_ps(dy + e), _mm256_and_ps(detail::keep_of_byte(bits[e / 8]), k));
        _mm256_storeu_ps(dx + e, _mm256_mul_ps(m, slope));
    }
}

#endif

using detail::have_avx2;

// Forward, elements [0, n) of one chunk: y = gelu(x) (keep ? kept : 0), keep = w >= thr.
template <class scalar_t>
void forward_chunk(const scalar_t* x, const uint32_t* w, int64_t n, uint32_t thr, double kept_d, scalar_t* y) {
    using acc_t = std::conditional_t<std::is_same_v<scalar_t, double>, double, float>;
    const auto kept = static_cast<acc_t>(kept_d);
    int64_t e = 0;
#ifdef RMAAT_VECTOR_MATH
    if constexpr (std::is_same_v<scalar_t, float>) {
        if (have_avx2()) {
            e = n & ~int64_t{7};
            forward_avx2(x, w, e, thr, kept, y);
        }
    }
#endif
    for (; e < n; ++e)
        y[e] = static_cast<scalar_t>(gelu_of(static_cast<acc_t>(x[e])) * (w[e] >= thr ? kept : acc_t(0)));
}

// Backward, elements [e, end): dx = dy (keep ? kept : 0) gelu'(x), keep from the forward's bits.
template <class scalar_t>
void backward_range(const scalar_t* x, const scalar_t* dy, const uint8_t* bits, int64_t e, int64_t end, double kept_d,
                    scalar_t* dx) {
    using acc_t = std::conditional_t<std::is_same_v<scalar_t, double>, double, float>;
    const auto kept = static_cast<acc_t>(kept_d);
#ifdef RMAAT_VECTOR_MATH
    if constexpr (std::is_same_v<scalar_t, float>) {
        if (have_avx2()) {  // e is a multiple of 64 here
            const int64_t n = (end - e) & ~int64_t{7};
            backward_avx2(dy + e, x + e, bits + e / 8, n, kept, dx + e);
            e += n;
        }
    }
#endif
    for (; e < end; ++e) {
        const acc_t m = (bits[e / 8] >> (e % 8)) & 1 ? kept : acc_t(0);
        dx[e] = static_cast<scalar_t>(static_cast<acc_t>(dy[e]) * m * gelu_slope(static_cast<acc_t>(x[e])));
    }
}

// Forward: one pass over x in the dropout stream's chunks, the keep bits stored beside.
torch::Tensor forward_pass(const torch::Tensor& x, const DropoutKey& key, double p, const torch::Tensor& bits) {
    const DropoutStream s = detail::make_stream(key, p);
    auto y = torch::empty_like(x, torch::MemoryFormat::Contiguous);
    // A threshold of 2^32 (p within 2^-32 of 1) keeps nothing; x * 0 keeps a non-finite input visible.
    const auto thr = static_cast<uint32_t>(s.threshold > 0xFFFFFFFFu ? 0 : s.threshold);
    const double kept = detail::kept_scale(p);
    uint8_t* bp = bits.data_ptr<uint8_t>();
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, x.scalar_type(), "gelu_dropout", [&] {
        const scalar_t* xp = x.data_ptr<scalar_t>();
        scalar_t* yp = y.data_ptr<scalar_t>();
        detail::for_each_chunk(s, x.numel(), [&](int64_t i0, int64_t n, const uint32_t* w) {
            detail::store_bits(w, n, thr, bp + i0 / 8);
            forward_chunk<scalar_t>(xp + i0, w, n, thr, kept, yp + i0);
        });
    });
    return y;
}

// Backward: one pass over x and dy with the forward's bits (no Philox).
torch::Tensor backward_pass(const torch::Tensor& x, const torch::Tensor& dy, const torch::Tensor& bits, double p) {
    auto dx = torch::empty_like(x, torch::MemoryFormat::Contiguous);
    const double kept = detail::kept_scale(p);
    const uint8_t* bp = bits.data_ptr<uint8_t>();
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, x.scalar_type(), "gelu_dropout_backward", [&] {
        const scalar_t* xp = x.data_ptr<scalar_t>();
        const scalar_t* dyp = dy.data_ptr<scalar_t>();
        scalar_t* dxp = dx.data_ptr<scalar_t>();
        at::parallel_for(0, (x.numel() + 63) / 64, 256, [&](int64_t c0, int64_t c1) {
            backward_range<scalar_t>(xp, dyp, bp, 64 * c0, std::min(x.numel(), 64 * c1), kept, dxp);
        });
    });
    return dx;
}

struct GeluDropoutFunction : public torch::autograd::Function<GeluDropoutFunction> {
    static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x_in, double p, int64_t seed, int64_t step,
                                 int64_t segment, int64_t layer, int64_t site) {
        const auto x = x_in.contiguous();
        const auto bits = detail::empty_bits(x.numel());
        ctx->save_for_backward({x, bits});
        ctx->saved_data["p"] = p;
        return forward_pass(x, detail::key_of(seed, step, segment, layer, site), p, bits);
    }

    static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
        if (!grads[0].defined()) return {{}, {}, {}, {}, {}, {}, {}};
        const auto saved = ctx->get_saved_variables();
        const torch::Tensor &x = saved[0], &bits = saved[1];
        const double p = ctx->saved_data["p"].toDouble();
        torch::Tensor gx;
        if (torch::GradMode::is_enabled()) {  // a graph of the backward is wanted: the differentiable composition
            const auto slope = 0.5 * (1 + torch::erf(x * kRsqrt2)) + x * torch::exp(-0.5 * x * x) * kRsqrt2Pi;
            gx = detail::masked_scale(grads[0], bits, detail::kept_scale(p)) * slope;
        } else {
            gx = backward_pass(x, grads[0].contiguous(), bits, p);
        }
        return {gx, {}, {}, {}, {}, {}, {}};
    }
};

}  // namespace

torch::Tensor gelu_dropout(const torch::Tensor& x, double p, const DropoutKey& key, bool training) {
    TORCH_CHECK(p >= 0 && p < 1, "dropout: p must be in [0, 1), got ", p);
    if (!training || p == 0) return torch::gelu(x);
    TORCH_CHECK(x.is_floating_point(), "gelu_dropout: x must be a floating-point tensor, got ", x.scalar_type());
    if (!x.device().is_cpu()) return keyed_dropout(torch::gelu(x), p, key);  // the two kernels of that device
    return GeluDropoutFunction::apply(x, p, static_cast<int64_t>(key.seed), key.step, key.segment, int64_t{key.layer},
                                      int64_t{key.site});
}

}  // namespace rmaat::kernels
