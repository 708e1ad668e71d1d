#pragma once
// glibc's vector math on x86-64 (libmvec, glibc >= 2.35): 8-wide AVX2 erff and expf, the variants GCC's
// vectorizer calls. RMAAT_VECTOR_MATH is defined where they can be called (the file is built with
// RMAAT_HAVE_MVEC, kernels/CMakeLists.txt); callers check the CPU (detail::have_avx2()) before use.
#if defined(RMAAT_HAVE_MVEC) && defined(__x86_64__) && defined(__GLIBC__) && \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35)) && (defined(__GNUC__) || defined(__clang__))
#define RMAAT_VECTOR_MATH 1
#include <immintrin.h>
extern "C" __attribute__((target("avx2"))) __m256 _ZGVdN8v_erff(__m256);
extern "C" __attribute__((target("avx2"))) __m256 _ZGVdN8v_expf(__m256);
#endif
