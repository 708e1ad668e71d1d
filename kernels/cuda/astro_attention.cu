// Astromorphic attention forward and backward on CUDA (kernels/cuda/cuda_kernels.hpp has the maths).
// Five kernels per direction pair, each a pass over the N-sized tensors with the m x d_h state in
// shared memory; nothing N x N, nothing N-sized saved beyond den [B, H, N]:
//   forward:  state (S, ksum; atomics across row chunks) -> finalize (H, g) -> readout (out, den)
//   backward: readout_backward (dq; dH, dg) -> finalize_backward (dA, dg') -> state_backward (dk, dv, dR)
// A block is 256 threads; each owns up to 16 entries of the m x d_h state in registers.
#include <algorithm>
#include <cfloat>
#include <cstdint>
#include <string>
#include <type_traits>

#include "kernels/cuda/common.cuh"

namespace rmaat::kernels::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kTile = 32;                             // rows of N staged in shared memory at a time
constexpr int kPerThread = kMaxHeadState / kThreads;  // state entries per thread
constexpr int64_t kRowsPerBlock = 256;                // rows of N per block in the reductions

__device__ __forceinline__ int64_t min64(int64_t a, int64_t b) {
    return a < b ? a : b;
}

__device__ __forceinline__ float phi(float z) {  // elu(z) + 1
    return z > 0.f ? z + 1.f : __expf(z);
}

// The m x d_h state a block accumulates, kPerThread entries per thread in registers (entry
// e = threadIdx.x + t kThreads): acc += A^T B over a tile of `rows` rows, A [rows, m], B [rows, dh].
__device__ __forceinline__ void accumulate_state(float (&acc)[kPerThread], const float* A, const float* B, int rows,
                                                 int m, int dh) {
#pragma unroll
    for (int t = 0; t < kPerThread; ++t) {
        const int e = threadIdx.x + t * kThreads;
        if (e < m * dh) {
            const int i = e / dh, j = e % dh;
            float a = acc[t];
            for (int r = 0; r < rows; ++r) a += A[r * m + i] * B[r * dh + j];
            acc[t] = a;
        }
    }
}

// Adds a block's state into the global one (other blocks of the same (b, h) add theirs).
__device__ __forceinline__ void flush_state(const float (&acc)[kPerThread], float* dst, int m, int dh) {
#pragma unroll
    for (int t = 0; t < kPerThread; ++t) {
        const int e = threadIdx.x + t * kThreads;
        if (e < m * dh) atomicAdd(&dst[e], acc[t]);
    }
}

// S += (phi(K) + phi(R))^T V and ksum += sum phi(k) over this block's rows (masked rows zeroed).
template <typename T>
__global__ void __launch_bounds__(kThreads)
    state_forward(const T* k, const T* v, const bool* mask, const float* R, AttentionShape s, float* S, float* ksum) {
    extern __shared__ float smem[];
    const int m = static_cast<int>(s.m), dh = static_cast<int>(s.dh);
    float* Ks = smem;             // [kTile, m]  phi(k) masked + phi(R)
    float* Vs = Ks + kTile * m;   // [kTile, dh] v masked
    float* ks = Vs + kTile * dh;  // [m]         this block's ksum
    const int64_t bh = blockIdx.x, b = bh / s.H, h = bh % s.H, N = s.N;
    const int64_t n_begin = blockIdx.y * kRowsPerBlock, n_end = min64(N, n_begin + kRowsPerBlock);
    const T* kb = k + bh * N * m;
    const T* vb = v + bh * N * dh;
    const float* Rh = R ? R + h * s.span * m : nullptr;
    float acc[kPerThread];
#pragma unroll
    for (int t = 0; t < kPerThread; ++t) acc[t] = 0.f;
    for (int i = threadIdx.x; i < m; i += kThreads) ks[i] = 0.f;
    for (int64_t n0 = n_begin; n0 < n_end; n0 += kTile) {
        const int rows = static_cast<int>(min64(kTile, n_end - n0));
        __syncthreads();  // the previous tile is consumed (and ks is initialised)
        for (int e = threadIdx.x; e < kTile * m; e += kThreads) {
            const int r = e / m, i = e % m;
            float pk = 0.f, pr = 0.f;
            if (r < rows) {
                const int64_t n = n0 + r;
                if (!mask || mask[b * N + n]) pk = phi(Elem<T>::load(kb[n * m + i]));
                if (Rh) pr = Rh[n * m + i];
                atomicAdd(&ks[i], pk);
            }
            Ks[e] = pk + pr;
        }
        for (int e = threadIdx.x; e < kTile * dh; e += kThreads) {
            const int r = e / dh, j = e % dh;
            float x = 0.f;
            if (r < rows && (!mask || mask[b * N + n0 + r])) x = Elem<T>::load(vb[(n0 + r) * dh + j]);
            Vs[e] = x;
        }
        __syncthreads();
        accumulate_state(acc, Ks, Vs, rows, m, dh);
    }
    __syncthreads();
    flush_state(acc, S + bh * m * dh, m, dh);
    for (int i = threadIdx.x; i < m; i += kThreads) atomicAdd(&ksum[bh * m + i], ks[i]);
}

// H = c S (sigmoid optional), in place; g = max(ksum, FLT_MIN)^alpha (ksum when alpha = 1).
__global__ void finalize_forward(float* S, const float* ksum, float* g, AttentionShape s, AttentionScalars sc) {
    const int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
    if (e >= s.B * s.H * s.m * s.dh) return;
    float x = sc.c * S[e];
    if (sc.sigmoid_on_H) x = 1.f / (1.f + __expf(-x));
    S[e] = x;
    if (e % s.dh == 0) {
        const int64_t bi = e / s.dh;  // (b h) * m + i
        g[bi] = sc.alpha == 1.f ? ksum[bi] : powf(fmaxf(ksum[bi], FLT_MIN), sc.alpha);
    }
}

// out_n = phi(q_n) H / den_n, den_n = phi(q_n) . g + eps, for kTile rows per block.
template <typename T>
__global__ void __launch_bounds__(kThreads)
    readout(const T* q, const float* Hs, const float* g, AttentionShape s, float eps, T* out, float* den) {
    extern __shared__ float smem[];
    const int m = static_cast<int>(s.m), dh = static_cast<int>(s.dh);
    float* Hsh = smem;           // [m, dh]
    float* gs = Hsh + m * dh;    // [m]
    float* Qs = gs + m;          // [kTile, m] phi(q)
    float* ds = Qs + kTile * m;  // [kTile]
    const int64_t bh = blockIdx.x, N = s.N, n0 = static_cast<int64_t>(blockIdx.y) * kTile;
    const int rows = static_cast<int>(min64(kTile, N - n0));
    for (int e = threadIdx.x; e < m * dh; e += kThreads) Hsh[e] = Hs[bh * m * dh + e];
    for (int i = threadIdx.x; i < m; i += kThreads) gs[i] = g[bh * m + i];
    for (int e = threadIdx.x; e < rows * m; e += kThreads) Qs[e] = phi(Elem<T>::load(q[(bh * N + n0) * m + e]));
    __syncthreads();
    for (int r = threadIdx.x; r < rows; r += kThreads) {
        float d = 0.f;
        for (int i = 0; i < m; ++i) d += Qs[r * m + i] * gs[i];
        d += eps;
        ds[r] = d;
        den[bh * N + n0 + r] = d;
    }
    __syncthreads();
    for (int e = threadIdx.x; e < rows * dh; e += kThreads) {
        const int r = e / dh, j = e % dh;
        float a = 0.f;
        for (int i = 0; i < m; ++i) a += Qs[r * m + i] * Hsh[i * dh + j];
        out[(bh * N + n0) * dh + e] = Elem<T>::store(a / ds[r]);
    }
}

// From dout: dnum = dout / den, P = dnum H^T, dden = -(phi(q) . P) / den,
// dq = (P + dden g) min(phi(q), 1); dH += phi(Q)^T dnum and dg += phi(Q)^T dden over the block's rows.
template <typename T>
__global__ void __launch_bounds__(kThreads)
    readout_backward(const T* q, const T* dout, const float* Hs, const float* g, const float* den, AttentionShape s,
                     T* dq, float* dH, float* dg) {
    extern __shared__ float smem[];
    const int m = static_cast<int>(s.m), dh = static_cast<int>(s.dh);
    float* Hsh = smem;            // [m, dh]
    float* gs = Hsh + m * dh;     // [m]
    float* Qs = gs + m;           // [kTile, m]  phi(q)
    float* Ds = Qs + kTile * m;   // [kTile, dh] dnum
    float* Ps = Ds + kTile * dh;  // [kTile, m]  P
    float* dd = Ps + kTile * m;   // [kTile]     dden
    float* dn = dd + kTile;       // [kTile]     den
    const int64_t bh = blockIdx.x, N = s.N;
    const int64_t n_begin = blockIdx.y * kRowsPerBlock, n_end = min64(N, n_begin + kRowsPerBlock);
    for (int e = threadIdx.x; e < m * dh; e += kThreads) Hsh[e] = Hs[bh * m * dh + e];
    for (int i = threadIdx.x; i < m; i += kThreads) gs[i] = g[bh * m + i];
    float acc[kPerThread], acc_g = 0.f;
#pragma unroll
    for (int t = 0; t < kPerThread; ++t) acc[t] = 0.f;
    for (int64_t n0 = n_begin; n0 < n_end; n0 += kTile) {
        const int rows = static_cast<int>(min64(kTile, n_end - n0));
        __syncthreads();
        for (int r = threadIdx.x; r < kTile; r += kThreads) dn[r] = r < rows ? den[bh * N + n0 + r] : 1.f;
        for (int e = threadIdx.x; e < kTile * m; e += kThreads)
            Qs[e] = e < rows * m ? phi(Elem<T>::load(q[(bh * N + n0) * m + e])) : 0.f;
        __syncthreads();
        for (int e = threadIdx.x; e < kTile * dh; e += kThreads)
            Ds[e] = e < rows * dh ? Elem<T>::load(dout[(bh * N + n0) * dh + e]) / dn[e / dh] : 0.f;
        __syncthreads();
        for (int e = threadIdx.x; e < rows * m; e += kThreads) {
            const int r = e / m, i = e % m;
            float p = 0.f;
            for (int j = 0; j < dh; ++j) p += Ds[r * dh + j] * Hsh[i * dh + j];
            Ps[e] = p;
        }
        __syncthreads();
        for (int r = threadIdx.x; r < kTile; r += kThreads) {
            float x = 0.f;
            for (int i = 0; r < rows && i < m; ++i) x += Qs[r * m + i] * Ps[r * m + i];
            dd[r] = r < rows ? -x / dn[r] : 0.f;
        }
        __syncthreads();
        for (int e = threadIdx.x; e < rows * m; e += kThreads) {
            const int r = e / m, i = e % m;
            dq[(bh * N + n0) * m + e] = Elem<T>::store((Ps[e] + dd[r] * gs[i]) * fminf(Qs[e], 1.f));
        }
        accumulate_state(acc, Qs, Ds, rows, m, dh);
        if (threadIdx.x < m)
            for (int r = 0; r < rows; ++r) acc_g += Qs[r * m + threadIdx.x] * dd[r];
    }
    flush_state(acc, dH + bh * m * dh, m, dh);
    if (threadIdx.x < m) atomicAdd(&dg[bh * m + threadIdx.x], acc_g);
}

// dA = c dH (times H (1 - H) after a sigmoid), in place; dg' = dg alpha ksum^(alpha - 1) (0 where
// ksum < FLT_MIN, the clamp's flat side; dg itself when alpha = 1), in place.
__global__ void finalize_backward(float* dH, float* dg, const float* Hs, const float* ksum, AttentionShape s,
                                  AttentionScalars sc) {
    const int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
    if (e >= s.B * s.H * s.m * s.dh) return;
    float x = dH[e];
    if (sc.sigmoid_on_H) x *= Hs[e] * (1.f - Hs[e]);
    dH[e] = sc.c * x;
    if (e % s.dh == 0 && sc.alpha != 1.f) {
        const int64_t bi = e / s.dh;
        const float ks = ksum[bi];
        dg[bi] = ks >= FLT_MIN ? dg[bi] * sc.alpha * powf(ks, sc.alpha - 1.f) : 0.f;
    }
}

// dpk = V dA^T (summed over the batch into dR), dk = (dpk + dg') min(phi(k), 1),
// dv = (phi(K) + phi(R)) dA; masked rows get 0.
template <typename T>
__global__ void __launch_bounds__(kThreads)
    state_backward(const T* k, const T* v, const bool* mask, const float* R, const float* dA, const float* dgk,
                   AttentionShape s, T* dk, T* dv, float* dR) {
    extern __shared__ float smem[];
    const int m = static_cast<int>(s.m), dh = static_cast<int>(s.dh);
    float* As = smem;               // [m, dh]
    float* gk = As + m * dh;        // [m]
    float* Ks = gk + m;             // [kTile, m]  phi(k) masked
    float* KR = Ks + kTile * m;     // [kTile, m]  phi(k) masked + phi(R)
    float* Vs = KR + kTile * m;     // [kTile, dh] v masked
    float* real = Vs + kTile * dh;  // [kTile]
    const int64_t bh = blockIdx.x, b = bh / s.H, h = bh % s.H, N = s.N;
    const int64_t n0 = static_cast<int64_t>(blockIdx.y) * kTile;
    const int rows = static_cast<int>(min64(kTile, N - n0));
    const float* Rh = R ? R + h * s.span * m : nullptr;
    for (int e = threadIdx.x; e < m * dh; e += kThreads) As[e] = dA[bh * m * dh + e];
    for (int i = threadIdx.x; i < m; i += kThreads) gk[i] = dgk[bh * m + i];
    for (int r = threadIdx.x; r < rows; r += kThreads) real[r] = (!mask || mask[b * N + n0 + r]) ? 1.f : 0.f;
    __syncthreads();
    for (int e = threadIdx.x; e < rows * m; e += kThreads) {
        const float pk = real[e / m] * phi(Elem<T>::load(k[(bh * N + n0) * m + e]));
        Ks[e] = pk;
        KR[e] = pk + (Rh ? Rh[n0 * m + e] : 0.f);
    }
    for (int e = threadIdx.x; e < rows * dh; e += kThreads)
        Vs[e] = real[e / dh] * Elem<T>::load(v[(bh * N + n0) * dh + e]);
    __syncthreads();
    for (int e = threadIdx.x; e < rows * m; e += kThreads) {
        const int r = e / m, i = e % m;
        float p = 0.f;
        for (int j = 0; j < dh; ++j) p += Vs[r * dh + j] * As[i * dh + j];
        if (dR) atomicAdd(&dR[(h * s.span + n0) * m + e], p);
        dk[(bh * N + n0) * m + e] = Elem<T>::store((p + gk[i]) * fminf(Ks[e], 1.f));
    }
    for (int e = threadIdx.x; e < rows * dh; e += kThreads) {
        const int r = e / dh, j = e % dh;
        float a = 0.f;
        for (int i = 0; i < m; ++i) a += KR[r * m + i] * As[i * dh + j];
        dv[(bh * N + n0) * dh + e] = Elem<T>::store(real[r] * a);
    }
}

// Dynamic shared memory of each kernel (floats), as carved up inside it.
size_t shared_state_forward(const AttentionShape& s) {
    return (kTile * (s.m + s.dh) + s.m) * sizeof(float);
}
size_t shared_readout(const AttentionShape& s) {
    return (s.m * s.dh + s.m + kTile * s.m + kTile) * sizeof(float);
}
size_t shared_readout_backward(const AttentionShape& s) {
    return (s.m * s.dh + s.m + 2 * kTile * s.m + kTile * s.dh + 2 * kTile) * sizeof(float);
}
size_t shared_state_backward(const AttentionShape& s) {
    return (s.m * s.dh + s.m + 2 * kTile * s.m + kTile * s.dh + kTile) * sizeof(float);
}

// The largest dynamic shared memory a block of the current device may opt in to.
size_t max_shared_optin() {
    int dev = 0, bytes = 0;
    check(cudaGetDevice(&dev), "cudaGetDevice");
    check(cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev), "shared memory limit");
    return static_cast<size_t>(bytes);
}

// Above 48 KiB a kernel must opt in to its dynamic shared memory before the launch.
template <typename K>
void opt_in(K* kernel, size_t bytes, const char* what) {
    if (bytes > 48 * 1024)
        check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)), what);
}

// Empty when the kernels take this shape, else the reason.
std::string unsupported(const AttentionShape& s) {
    if (s.B < 1 || s.H < 1 || s.N < 1 || s.m < 1 || s.dh < 1) return "empty shape";
    if (s.m * s.dh > kMaxHeadState)
        return "m d_h = " + std::to_string(s.m * s.dh) + " exceeds " + std::to_string(kMaxHeadState);
    if (s.m > kThreads) return "m > " + std::to_string(kThreads);
    if (s.span < s.N) return "span < N";
    if (s.B * s.H > 0x7FFFFFFF || (s.N + kTile - 1) / kTile > 65535) return "B H or N too large for one launch";
    const size_t need = std::max(std::max(shared_state_forward(s), shared_readout(s)),
                                 std::max(shared_readout_backward(s), shared_state_backward(s)));
    if (need > max_shared_optin()) return "needs " + std::to_string(need) + " bytes of shared memory per block";
    return {};
}

void check_shape(const AttentionShape& s, const char* what) {
    const std::string why = unsupported(s);
    if (!why.empty()) throw std::invalid_argument(std::string(what) + ": " + why);
}

dim3 chunk_grid(const AttentionShape& s) {
    return dim3(static_cast<unsigned>(s.B * s.H), static_cast<unsigned>((s.N + kRowsPerBlock - 1) / kRowsPerBlock));
}
dim3 tile_grid(const AttentionShape& s) {
    return dim3(static_cast<unsigned>(s.B * s.H), static_cast<unsigned>((s.N + kTile - 1) / kTile));
}
unsigned elementwise_blocks(int64_t n) {
    return static_cast<unsigned>((n + kThreads - 1) / kThreads);
}

// The kernels take fp32 and bf16 (and fp16) inputs; fp64 stays on the LibTorch path.
template <typename F>
void with_attention_dtype(DType d, const char* what, F&& f) {
    if (d == DType::f64) throw std::invalid_argument(std::string(what) + ": fp64 has no CUDA kernel");
    with_dtype(d, what, [&](auto t) {
        if constexpr (!std::is_same_v<decltype(t), double>) f(t);
    });
}

}  // namespace

bool attention_supported(const AttentionShape& shape) {
    return unsupported(shape).empty();
}

void astro_forward(DType dtype, const void* q, const void* k, const void* v, const bool* mask, const float* R_phi,
                   const AttentionShape& s, const AttentionScalars& sc, void* out, float* Hs, float* ksum, float* g,
                   float* den, void* stream) {
    check_shape(s, "astro_forward");
    const auto st = as_stream(stream);
    const int64_t state = s.B * s.H * s.m * s.dh;
    check(cudaMemsetAsync(Hs, 0, state * sizeof(float), st), "astro_forward: clear S");
    check(cudaMemsetAsync(ksum, 0, s.B * s.H * s.m * sizeof(float), st), "astro_forward: clear ksum");
    with_attention_dtype(dtype, "astro_forward", [&](auto t) {
        using T = decltype(t);
        const size_t sm_state = shared_state_forward(s);
        opt_in(state_forward<T>, sm_state, "state_forward: shared memory");
        state_forward<T><<<chunk_grid(s), kThreads, sm_state, st>>>(static_cast<const T*>(k), static_cast<const T*>(v),
                                                                    mask, R_phi, s, Hs, ksum);
        check_launch("state_forward");
        finalize_forward<<<elementwise_blocks(state), kThreads, 0, st>>>(Hs, ksum, g, s, sc);
        check_launch("finalize_forward");
        const size_t sm_read = shared_readout(s);
        opt_in(readout<T>, sm_read, "readout: shared memory");
        readout<T><<<tile_grid(s), kThreads, sm_read, st>>>(static_cast<const T*>(q), Hs, g, s, sc.eps,
                                                            static_cast<T*>(out), den);
        check_launch("readout");
    });
}

void astro_backward(DType dtype, const void* q, const void* k, const void* v, const bool* mask, const float* R_phi,
                    const void* dout, const float* Hs, const float* ksum, const float* g, const float* den,
                    const AttentionShape& s, const AttentionScalars& sc, void* dq, void* dk, void* dv, float* dR_phi,
                    float* work, void* stream) {
    check_shape(s, "astro_backward");
    const auto st = as_stream(stream);
    const int64_t state = s.B * s.H * s.m * s.dh;
    float* dH = work;
    float* dg = work + state;
    check(cudaMemsetAsync(work, 0, (state + s.B * s.H * s.m) * sizeof(float), st), "astro_backward: clear dH, dg");
    if (dR_phi) check(cudaMemsetAsync(dR_phi, 0, s.H * s.span * s.m * sizeof(float), st), "astro_backward: clear dR");
    with_attention_dtype(dtype, "astro_backward", [&](auto t) {
        using T = decltype(t);
        const size_t sm_read = shared_readout_backward(s);
        opt_in(readout_backward<T>, sm_read, "readout_backward: shared memory");
        readout_backward<T><<<chunk_grid(s), kThreads, sm_read, st>>>(
            static_cast<const T*>(q), static_cast<const T*>(dout), Hs, g, den, s, static_cast<T*>(dq), dH, dg);
        check_launch("readout_backward");
        finalize_backward<<<elementwise_blocks(state), kThreads, 0, st>>>(dH, dg, Hs, ksum, s, sc);
        check_launch("finalize_backward");
        const size_t sm_state = shared_state_backward(s);
        opt_in(state_backward<T>, sm_state, "state_backward: shared memory");
        state_backward<T><<<tile_grid(s), kThreads, sm_state, st>>>(static_cast<const T*>(k), static_cast<const T*>(v),
                                                                    mask, R_phi, dH, dg, s, static_cast<T*>(dk),
                                                                    static_cast<T*>(dv), R_phi ? dR_phi : nullptr);
        check_launch("state_backward");
    });
}

}  // namespace rmaat::kernels::cuda
