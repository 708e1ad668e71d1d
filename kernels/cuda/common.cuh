#pragma once
// What every kernel file shares: launch checking, element loads and stores in the accumulation type
// (fp32 for fp32, bf16 and fp16; fp64 for fp64), and the dtype switch.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "kernels/cuda/cuda_kernels.hpp"

namespace rmaat::kernels::cuda {

// Throws with the kernel's name and CUDA's message; launches are checked without synchronising.
inline void check(cudaError_t e, const char* what) {
    if (e != cudaSuccess) throw std::runtime_error(std::string("CUDA: ") + what + ": " + cudaGetErrorString(e));
}
inline void check_launch(const char* kernel) {
    check(cudaGetLastError(), kernel);
}

inline cudaStream_t as_stream(void* s) {
    return static_cast<cudaStream_t>(s);
}

template <typename T>
struct Elem {  // float and double
    using acc = T;
    static __device__ __forceinline__ acc load(T x) { return x; }
    static __device__ __forceinline__ T store(acc x) { return x; }
};
template <>
struct Elem<__nv_bfloat16> {
    using acc = float;
    static __device__ __forceinline__ float load(__nv_bfloat16 x) { return __bfloat162float(x); }
    static __device__ __forceinline__ __nv_bfloat16 store(float x) { return __float2bfloat16(x); }
};
template <>
struct Elem<__half> {
    using acc = float;
    static __device__ __forceinline__ float load(__half x) { return __half2float(x); }
    static __device__ __forceinline__ __half store(float x) { return __float2half(x); }
};

// Calls f(T{}) with the element type of `d`; `allowed` lists the dtypes the caller supports.
template <typename F>
void with_dtype(DType d, const char* what, F&& f) {
    switch (d) {
        case DType::f32: return f(float{});
        case DType::f64: return f(double{});
        case DType::bf16: return f(__nv_bfloat16{});
        case DType::f16: return f(__half{});
    }
    throw std::invalid_argument(std::string(what) + ": unknown dtype");
}

}  // namespace rmaat::kernels::cuda
