// The position-decay scan and the keyed dropout on CUDA (kernels/cuda/cuda_kernels.hpp).
//   decay:   out = P_rel W, one thread per (block, column): f_i = W_i + r f_{i-1}, b_i = W_i + r b_{i+1},
//            out = f + b - W (kernels/decay_product.hpp); columns are adjacent in memory, so a warp's
//            loads coalesce. The scan runs once per optimiser step, on a [H, span, m] weight.
//   dropout: one thread per Philox block (4 elements), kernels/philox.hpp's stream: the CPU's masks.
#include <algorithm>
#include <cstdint>

#include "kernels/cuda/common.cuh"

namespace rmaat::kernels::cuda {

namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void decay_scan(const T* W, T* out, int64_t G, int64_t N, int64_t m, T r) {
    const int64_t c = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
    if (c >= G * m) return;
    const int64_t base = (c / m) * N * m + c % m;
    const T* w = W + base;
    T* o = out + base;
    T acc = 0;
    for (int64_t i = 0; i < N; ++i) o[i * m] = acc = w[i * m] + r * acc;
    acc = 0;
    for (int64_t i = N - 1; i >= 0; --i) {
        acc = w[i * m] + r * acc;
        o[i * m] += acc - w[i * m];
    }
}

template <typename T>
__global__ void dropout_blocks(const T* x, T* y, int64_t numel, DropoutStream s, typename Elem<T>::acc scale) {
    using A = typename Elem<T>::acc;
    const int64_t blocks = (numel + 3) / 4;
    const bool none = s.threshold > 0xFFFFFFFFull;  // p within 2^-32 of 1: nothing kept
    const auto thr = static_cast<uint32_t>(none ? 0 : s.threshold);
    for (int64_t j = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; j < blocks;
         j += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        const PhiloxWords w = stream_block(s, static_cast<uint64_t>(j));
#pragma unroll
        for (int l = 0; l < 4; ++l) {
            const int64_t e = 4 * j + l;
            // x * 0 rather than 0, so a non-finite input stays visible, as on the CPU
            if (e < numel) y[e] = Elem<T>::store(Elem<T>::load(x[e]) * (!none && w.w[l] >= thr ? scale : A(0)));
        }
    }
}

}  // namespace

void decay_product(DType dtype, const void* W, void* out, int64_t G, int64_t N, int64_t m, double r, void* stream) {
    if (G < 0 || N < 0 || m < 0) throw std::invalid_argument("decay_product: negative size");
    if (G * N * m == 0) return;
    const auto blocks = static_cast<unsigned>((G * m + kThreads - 1) / kThreads);
    if (dtype == DType::f32) {
        decay_scan<float><<<blocks, kThreads, 0, as_stream(stream)>>>(
            static_cast<const float*>(W), static_cast<float*>(out), G, N, m, static_cast<float>(r));
    } else if (dtype == DType::f64) {
        decay_scan<double><<<blocks, kThreads, 0, as_stream(stream)>>>(static_cast<const double*>(W),
                                                                       static_cast<double*>(out), G, N, m, r);
    } else {
        throw std::invalid_argument("decay_product: fp32 or fp64 only (half precision is widened by the caller)");
    }
    check_launch("decay_scan");
}

void keyed_dropout(DType dtype, const void* x, void* y, int64_t numel, const DropoutStream& s, double scale,
                   void* stream) {
    if (numel < 0) throw std::invalid_argument("keyed_dropout: negative size");
    if (numel == 0) return;
    const int64_t blocks = (numel + 3) / 4;
    const auto grid = static_cast<unsigned>(std::min<int64_t>((blocks + kThreads - 1) / kThreads, 65535 * 8));
    with_dtype(dtype, "keyed_dropout", [&](auto t) {
        using T = decltype(t);
        using A = typename Elem<T>::acc;
        dropout_blocks<T><<<grid, kThreads, 0, as_stream(stream)>>>(static_cast<const T*>(x), static_cast<T*>(y), numel,
                                                                    s, static_cast<A>(scale));
    });
    check_launch("dropout_blocks");
}

}  // namespace rmaat::kernels::cuda
