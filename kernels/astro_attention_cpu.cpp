#include "kernels/astro_attention_cpu.hpp"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/philox_cpu.hpp"  // detail::have_avx2
#include "kernels/vector_math.hpp"

namespace rmaat::kernels {

#if defined(RMAAT_VECTOR_MATH)
#define RMAAT_ATTENTION_AVX2 1

namespace {

constexpr float kTiny = std::numeric_limits<float>::min();  // the clamp of the LibTorch path's normaliser

// A [B, H, N, w] float input read at p + b s0 + h s1 + n s2 + j (unit stride in the last dim).
struct View {
    const float* p;
    int64_t s0, s1, s2;
    const float* row(int64_t b, int64_t h, int64_t n) const { return p + b * s0 + h * s1 + n * s2; }
};

View view_of(const torch::Tensor& x) {
    return {x.data_ptr<float>(), x.stride(0), x.stride(1), x.stride(2)};
}

struct Call {
    int64_t B, H, N;
    View q, k, v;
    const float* mask;  // [B, N] 0/1, or null
    const float* R;     // [H, N, m] contiguous, or null
    float c, eps, alpha;
    bool sigmoid;
};

// phi(z) = z + 1 for z > 0, exp(z) otherwise; 8 lanes.
__attribute__((target("avx2,fma"))) inline __m256 phi8(__m256 z) {
    const __m256 zero = _mm256_setzero_ps();
    const __m256 e = _ZGVdN8v_expf(_mm256_min_ps(z, zero));
    return _mm256_blendv_ps(e, _mm256_add_ps(z, _mm256_set1_ps(1.0f)), _mm256_cmp_ps(z, zero, _CMP_GT_OQ));
}

__attribute__((target("avx2,fma"))) inline float sum8(__m256 x) {
    const __m128 s = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
}

// Forward of the slices [bh0, bh1) for m = d_h = W (a multiple of 8): V vectors per row.
template <int W>
__attribute__((target("avx2,fma"))) void forward_slices(const Call& a, int64_t bh0, int64_t bh1, float* out, float* Hs,
                                                        float* ks, float* gs, float* den) {
    constexpr int V = W / 8;
    alignas(32) float keys[W], pq[W];
    alignas(32) float A[W * W];  // A[j][i]
    for (int64_t bh = bh0; bh < bh1; ++bh) {
        const int64_t b = bh / a.H, h = bh % a.H;
        std::fill(A, A + W * W, 0.0f);
        __m256 ksum[V];
        for (int u = 0; u < V; ++u) ksum[u] = _mm256_setzero_ps();
        for (int64_t n = 0; n < a.N; ++n) {
            const __m256 mk = _mm256_set1_ps(a.mask ? a.mask[b * a.N + n] : 1.0f);
            const float* kr = a.k.row(b, h, n);
            const float* r = a.R ? a.R + (h * a.N + n) * W : nullptr;
            for (int u = 0; u < V; ++u) {
                const __m256 pk = _mm256_mul_ps(phi8(_mm256_loadu_ps(kr + 8 * u)), mk);
                ksum[u] = _mm256_add_ps(ksum[u], pk);
                _mm256_store_ps(keys + 8 * u, r ? _mm256_add_ps(pk, _mm256_loadu_ps(r + 8 * u)) : pk);
            }
            const float* vr = a.v.row(b, h, n);
            __m256 vrow[V];
            for (int u = 0; u < V; ++u) vrow[u] = _mm256_mul_ps(_mm256_loadu_ps(vr + 8 * u), mk);
            for (int j = 0; j < W; ++j) {
                const __m256 kj = _mm256_set1_ps(keys[j]);
                float* Aj = A + j * W;
                for (int u = 0; u < V; ++u)
                    _mm256_store_ps(Aj + 8 * u, _mm256_fmadd_ps(kj, vrow[u], _mm256_load_ps(Aj + 8 * u)));
            }
        }
        float* H = Hs + bh * W * W;
        for (int e = 0; e < W * W; ++e) H[e] = a.sigmoid ? 1.0f / (1.0f + std::exp(-a.c * A[e])) : a.c * A[e];
        float* ksum_out = ks + bh * W;
        float* g = gs + bh * W;
        for (int u = 0; u < V; ++u) _mm256_storeu_ps(ksum_out + 8 * u, ksum[u]);
        for (int j = 0; j < W; ++j)
            g[j] = a.alpha == 1.0f ? ksum_out[j] : std::pow(std::max(ksum_out[j], kTiny), a.alpha);
        __m256 gv[V];
        for (int u = 0; u < V; ++u) gv[u] = _mm256_loadu_ps(g + 8 * u);
        for (int64_t n = 0; n < a.N; ++n) {
            const float* qr = a.q.row(b, h, n);
            __m256 d8 = _mm256_setzero_ps();
            for (int u = 0; u < V; ++u) {
                const __m256 p = phi8(_mm256_loadu_ps(qr + 8 * u));
                d8 = _mm256_fmadd_ps(p, gv[u], d8);
                _mm256_store_ps(pq + 8 * u, p);
            }
            __m256 num[V];
            for (int u = 0; u < V; ++u) num[u] = _mm256_setzero_ps();
            for (int j = 0; j < W; ++j) {
                const __m256 pj = _mm256_set1_ps(pq[j]);
                const float* Hj = H + j * W;
                for (int u = 0; u < V; ++u) num[u] = _mm256_fmadd_ps(pj, _mm256_loadu_ps(Hj + 8 * u), num[u]);
            }
            const float d = sum8(d8) + a.eps;
            den[bh * a.N + n] = d;
            const __m256 dv = _mm256_set1_ps(d);
            float* o = out + ((b * a.N + n) * a.H + h) * W;  // [B, N, H, d_h]
            for (int u = 0; u < V; ++u) _mm256_storeu_ps(o + 8 * u, _mm256_div_ps(num[u], dv));
        }
    }
}

// Backward of the heads [h0, h1), every b of each (dR_phi sums over b), m = d_h = W.
template <int W>
__attribute__((target("avx2,fma"))) void backward_heads(const Call& a, const View& dO, int64_t h0, int64_t h1,
                                                        const float* Hs, const float* ks, const float* gs,
                                                        const float* den, float* dq, float* dk, float* dv, float* dR) {
    constexpr int V = W / 8;
    alignas(32) float pq[W], dnum[W], vrow_s[W], keys[W], kt[W], dgs[W];
    alignas(32) float Ht[W * W], dA[W * W], dAt[W * W];  // dA accumulates dH, then is scaled to dA
    const __m256 one = _mm256_set1_ps(1.0f);
    for (int64_t h = h0; h < h1; ++h) {
        for (int64_t b = 0; b < a.B; ++b) {
            const int64_t bh = b * a.H + h;
            const float *H = Hs + bh * W * W, *g = gs + bh * W, *ksum = ks + bh * W, *D = den + bh * a.N;
            for (int j = 0; j < W; ++j)
                for (int i = 0; i < W; ++i) Ht[i * W + j] = H[j * W + i];
            std::fill(dA, dA + W * W, 0.0f);
            __m256 dg[V], gv[V];
            for (int u = 0; u < V; ++u) {
                dg[u] = _mm256_setzero_ps();
                gv[u] = _mm256_loadu_ps(g + 8 * u);
            }
            // dnum = dO / D, P = dnum H^T, dD = -phi(q) . P / D; dq = (P + dD g) phi'(q), phi' = min(phi, 1)
            for (int64_t n = 0; n < a.N; ++n) {
                const float* qr = a.q.row(b, h, n);
                const float* dor = dO.row(b, h, n);
                const __m256 Dn = _mm256_set1_ps(D[n]);
                __m256 pqv[V], P[V];
                for (int u = 0; u < V; ++u) {
                    pqv[u] = phi8(_mm256_loadu_ps(qr + 8 * u));
                    _mm256_store_ps(pq + 8 * u, pqv[u]);
                    _mm256_store_ps(dnum + 8 * u, _mm256_div_ps(_mm256_loadu_ps(dor + 8 * u), Dn));
                    P[u] = _mm256_setzero_ps();
                }
                for (int i = 0; i < W; ++i) {
                    const __m256 di = _mm256_set1_ps(dnum[i]);
                    const float* Hi = Ht + i * W;
                    for (int u = 0; u < V; ++u) P[u] = _mm256_fmadd_ps(di, _mm256_loadu_ps(Hi + 8 * u), P[u]);
                }
                __m256 s8 = _mm256_setzero_ps();
                for (int u = 0; u < V; ++u) s8 = _mm256_fmadd_ps(pqv[u], P[u], s8);
                const float dD = -sum8(s8) / D[n];
                const __m256 dDv = _mm256_set1_ps(dD);
                float* dqr = dq + ((b * a.N + n) * a.H + h) * W;
                __m256 dn[V];
                for (int u = 0; u < V; ++u) {
                    dg[u] = _mm256_fmadd_ps(pqv[u], dDv, dg[u]);
                    const __m256 d = _mm256_fmadd_ps(dDv, gv[u], P[u]);
                    _mm256_storeu_ps(dqr + 8 * u, _mm256_mul_ps(d, _mm256_min_ps(pqv[u], one)));
                    dn[u] = _mm256_load_ps(dnum + 8 * u);
                }
                for (int j = 0; j < W; ++j) {
                    const __m256 pj = _mm256_set1_ps(pq[j]);
                    float* dHj = dA + j * W;
                    for (int u = 0; u < V; ++u)
                        _mm256_store_ps(dHj + 8 * u, _mm256_fmadd_ps(pj, dn[u], _mm256_load_ps(dHj + 8 * u)));
                }
            }
            // dA = c dH (times H (1 - H) after a sigmoid); the normaliser's term of dphi(K)
            for (int e = 0; e < W * W; ++e) dA[e] *= a.sigmoid ? a.c * H[e] * (1.0f - H[e]) : a.c;
            for (int j = 0; j < W; ++j)
                for (int i = 0; i < W; ++i) dAt[i * W + j] = dA[j * W + i];
            for (int u = 0; u < V; ++u) _mm256_store_ps(dgs + 8 * u, dg[u]);
            for (int j = 0; j < W; ++j)
                kt[j] = a.alpha == 1.0f    ? dgs[j]
                        : ksum[j] >= kTiny ? dgs[j] * a.alpha * std::pow(std::max(ksum[j], kTiny), a.alpha - 1.0f)
                                           : 0.0f;
            // dphi(K) = V dA^T + kt, dV = (phi(K) + phi(R)) dA (masked rows: 0), dR_phi += V dA^T
            for (int64_t n = 0; n < a.N; ++n) {
                const float mkf = a.mask ? a.mask[b * a.N + n] : 1.0f;
                const __m256 mk = _mm256_set1_ps(mkf);
                const float* vr = a.v.row(b, h, n);
                for (int u = 0; u < V; ++u)
                    _mm256_store_ps(vrow_s + 8 * u, _mm256_mul_ps(_mm256_loadu_ps(vr + 8 * u), mk));
                __m256 vdA[V];
                for (int u = 0; u < V; ++u) vdA[u] = _mm256_setzero_ps();
                for (int i = 0; i < W; ++i) {
                    const __m256 vi = _mm256_set1_ps(vrow_s[i]);
                    const float* dAi = dAt + i * W;
                    for (int u = 0; u < V; ++u) vdA[u] = _mm256_fmadd_ps(vi, _mm256_loadu_ps(dAi + 8 * u), vdA[u]);
                }
                const float* kr = a.k.row(b, h, n);
                const float* r = a.R ? a.R + (h * a.N + n) * W : nullptr;
                float* dr = a.R ? dR + (h * a.N + n) * W : nullptr;
                float* dkr = dk + ((b * a.N + n) * a.H + h) * W;
                for (int u = 0; u < V; ++u) {
                    if (dr) _mm256_storeu_ps(dr + 8 * u, _mm256_add_ps(_mm256_loadu_ps(dr + 8 * u), vdA[u]));
                    const __m256 pk = _mm256_mul_ps(phi8(_mm256_loadu_ps(kr + 8 * u)), mk);
                    const __m256 ktv = _mm256_load_ps(kt + 8 * u);
                    _mm256_storeu_ps(dkr + 8 * u, _mm256_mul_ps(_mm256_add_ps(vdA[u], ktv), _mm256_min_ps(pk, one)));
                    _mm256_store_ps(keys + 8 * u, r ? _mm256_add_ps(pk, _mm256_loadu_ps(r + 8 * u)) : pk);
                }
                __m256 dvrow[V];
                for (int u = 0; u < V; ++u) dvrow[u] = _mm256_setzero_ps();
                for (int j = 0; j < W; ++j) {
                    const __m256 kj = _mm256_set1_ps(keys[j]);
                    const float* dAj = dA + j * W;
                    for (int u = 0; u < V; ++u) dvrow[u] = _mm256_fmadd_ps(kj, _mm256_loadu_ps(dAj + 8 * u), dvrow[u]);
                }
                float* dvr = dv + ((b * a.N + n) * a.H + h) * W;
                for (int u = 0; u < V; ++u) _mm256_storeu_ps(dvr + 8 * u, _mm256_mul_ps(dvrow[u], mk));
            }
        }
    }
}

using ForwardFn = void (*)(const Call&, int64_t, int64_t, float*, float*, float*, float*, float*);
using BackwardFn = void (*)(const Call&, const View&, int64_t, int64_t, const float*, const float*, const float*,
                            const float*, float*, float*, float*, float*);

ForwardFn forward_for(int64_t w) {
    return w == 16 ? &forward_slices<16> : w == 32 ? &forward_slices<32> : &forward_slices<64>;
}
BackwardFn backward_for(int64_t w) {
    return w == 16 ? &backward_heads<16> : w == 32 ? &backward_heads<32> : &backward_heads<64>;
}

torch::Tensor unit_last(const torch::Tensor& x) {
    return x.stride(-1) == 1 ? x : x.contiguous();
}

Call call_of(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, const torch::Tensor& mask_values,
             const torch::Tensor& R, const AstroAttentionOptions& opt) {
    return {q.size(0),
            q.size(1),
            q.size(2),
            view_of(q),
            view_of(k),
            view_of(v),
            mask_values.defined() ? mask_values.data_ptr<float>() : nullptr,
            R.defined() ? R.data_ptr<float>() : nullptr,
            static_cast<float>(opt.c),
            static_cast<float>(opt.eps),
            static_cast<float>(opt.alpha),
            opt.sigmoid_on_H};
}

torch::Tensor mask_values(const torch::Tensor& mask) {
    return mask.defined() ? mask.to(torch::kFloat).contiguous() : torch::Tensor();
}
torch::Tensor r_rows(const torch::Tensor& R_phi, int64_t N) {
    return R_phi.defined() ? R_phi.narrow(1, 0, N).to(torch::kFloat).contiguous() : torch::Tensor();
}

}  // namespace

bool cpu_attention_applies(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
    static const bool fma = detail::have_avx2() && __builtin_cpu_supports("fma");
    if (!fma) return false;
    const int64_t w = q.size(3);
    return q.device().is_cpu() && k.device().is_cpu() && v.device().is_cpu() && q.scalar_type() == torch::kFloat &&
           k.scalar_type() == torch::kFloat && v.scalar_type() == torch::kFloat && v.size(3) == w &&
           (w == 16 || w == 32 || w == 64);
}

AttentionState cpu_attention_forward(const torch::Tensor& q_in, const torch::Tensor& k_in, const torch::Tensor& v_in,
                                     const torch::Tensor& mask, const torch::Tensor& R_phi,
                                     const AstroAttentionOptions& opt) {
    const auto q = unit_last(q_in), k = unit_last(k_in), v = unit_last(v_in);
    const int64_t B = q.size(0), H = q.size(1), N = q.size(2), W = q.size(3);
    const auto mv = mask_values(mask), R = r_rows(R_phi, N);
    const Call a = call_of(q, k, v, mv, R, opt);
    const auto o = q.options();
    AttentionState st;
    auto out = torch::empty({B, N, H, W}, o);
    st.H = torch::empty({B, H, W, W}, o);
    st.ksum = torch::empty({B, H, W}, o);
    st.g = torch::empty({B, H, W}, o);
    st.den = torch::empty({B, H, N, 1}, o);
    const ForwardFn fn = forward_for(W);
    at::parallel_for(0, B * H, 1, [&](int64_t bh0, int64_t bh1) {
        fn(a, bh0, bh1, out.data_ptr<float>(), st.H.data_ptr<float>(), st.ksum.data_ptr<float>(),
           st.g.data_ptr<float>(), st.den.data_ptr<float>());
    });
    st.out = out.permute({0, 2, 1, 3});  // [B, H, N, d_h] over the [B, N, H, d_h] memory
    return st;
}

std::array<torch::Tensor, 4> cpu_attention_backward(const torch::Tensor& q_in, const torch::Tensor& k_in,
                                                    const torch::Tensor& v_in, const torch::Tensor& mask,
                                                    const torch::Tensor& R_phi, const torch::Tensor& dout,
                                                    const AttentionState& state, const AstroAttentionOptions& opt) {
    const auto q = unit_last(q_in), k = unit_last(k_in), v = unit_last(v_in);
    const auto dO = unit_last(dout.to(torch::kFloat));
    const int64_t B = q.size(0), H = q.size(1), N = q.size(2), W = q.size(3);
    const auto mv = mask_values(mask), R = r_rows(R_phi, N);
    const Call a = call_of(q, k, v, mv, R, opt);
    const auto Hs = state.H.contiguous(), ks = state.ksum.contiguous(), gs = state.g.contiguous();
    const auto den = state.den.contiguous();
    const auto o = q.options();
    auto dq = torch::empty({B, N, H, W}, o), dk = torch::empty({B, N, H, W}, o), dv = torch::empty({B, N, H, W}, o);
    const torch::Tensor dR = R.defined() ? torch::zeros({H, N, W}, o) : torch::Tensor();
    const View dov = view_of(dO);
    const BackwardFn fn = backward_for(W);
    at::parallel_for(0, H, 1, [&](int64_t h0, int64_t h1) {
        fn(a, dov, h0, h1, Hs.data_ptr<float>(), ks.data_ptr<float>(), gs.data_ptr<float>(), den.data_ptr<float>(),
           dq.data_ptr<float>(), dk.data_ptr<float>(), dv.data_ptr<float>(),
           dR.defined() ? dR.data_ptr<float>() : nullptr);
    });
    torch::Tensor dR_phi;
    if (R.defined()) {
        dR_phi = torch::zeros(R_phi.sizes(), R_phi.options());
        dR_phi.narrow(1, 0, N).copy_(dR);
    }
    const std::vector<int64_t> bhn{0, 2, 1, 3};
    return {dq.permute(bhn), dk.permute(bhn), dv.permute(bhn), dR_phi};
}

#else  // without glibc's vector expf (or not x86-64): the LibTorch path serves every CPU call

bool cpu_attention_applies(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&) {
    return false;
}
AttentionState cpu_attention_forward(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&,
                                     const torch::Tensor&, const torch::Tensor&, const AstroAttentionOptions&) {
    throw std::logic_error("astro attention: this build has no CPU kernel");
}
std::array<torch::Tensor, 4> cpu_attention_backward(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&,
                                                    const torch::Tensor&, const torch::Tensor&, const torch::Tensor&,
                                                    const AttentionState&, const AstroAttentionOptions&) {
    throw std::logic_error("astro attention: this build has no CPU kernel");
}

#endif

}  // namespace rmaat::kernels
