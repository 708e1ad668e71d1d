#include "kernels/cuda_dispatch.hpp"

#include <cmath>
#include <stdexcept>

#ifdef RMAAT_HAVE_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "kernels/cuda/cuda_kernels.hpp"
#endif

namespace rmaat::kernels {

#ifdef RMAAT_HAVE_CUDA

namespace {

namespace cu = rmaat::kernels::cuda;

cu::DType dtype_of(const torch::Tensor& t) {
    switch (t.scalar_type()) {
        case torch::kFloat: return cu::DType::f32;
        case torch::kDouble: return cu::DType::f64;
        case torch::kBFloat16: return cu::DType::bf16;
        case torch::kHalf: return cu::DType::f16;
        default: TORCH_CHECK(false, "CUDA kernels: unsupported dtype ", t.scalar_type());
    }
    return cu::DType::f32;
}

void* current_stream() {
    return static_cast<void*>(c10::cuda::getCurrentCUDAStream().stream());
}

cu::AttentionScalars scalars(const AstroAttentionOptions& opt) {
    return {static_cast<float>(opt.alpha), static_cast<float>(opt.c), static_cast<float>(opt.eps), opt.sigmoid_on_H};
}

cu::AttentionShape shape_of(const torch::Tensor& q, const torch::Tensor& v, const torch::Tensor& R) {
    return {q.size(0), q.size(1), q.size(2), q.size(3), v.size(3), R.defined() ? R.size(1) : q.size(2)};
}

const bool* mask_ptr(const torch::Tensor& mask) {
    return mask.defined() ? mask.data_ptr<bool>() : nullptr;
}

}  // namespace

bool cuda_kernels_built() {
    return true;
}

bool cuda_attention_applies(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
    const auto t = q.scalar_type();
    if (!q.is_cuda() || q.dim() != 4 || k.scalar_type() != t || v.scalar_type() != t ||
        !(t == torch::kFloat || t == torch::kBFloat16 || t == torch::kHalf))
        return false;
    const c10::cuda::CUDAGuard guard(q.device());  // the limits of q's device
    return cu::attention_supported(shape_of(q, v, torch::Tensor()));
}

AttentionState cuda_attention_forward(const torch::Tensor& q_in, const torch::Tensor& k_in, const torch::Tensor& v_in,
                                      const torch::Tensor& mask_in, const torch::Tensor& R_in,
                                      const AstroAttentionOptions& opt) {
    const c10::cuda::CUDAGuard guard(q_in.device());  // launches on q's device, whatever is current
    const auto q = q_in.contiguous(), k = k_in.contiguous(), v = v_in.contiguous();
    const auto mask = mask_in.defined() ? mask_in.to(q.device(), torch::kBool).contiguous() : torch::Tensor();
    const auto R = R_in.defined() ? R_in.to(q.device(), torch::kFloat).contiguous() : torch::Tensor();
    const auto s = shape_of(q, v, R);
    const auto f32 = q.options().dtype(torch::kFloat);
    AttentionState st;
    st.out = torch::empty({s.B, s.H, s.N, s.dh}, q.options());
    st.H = torch::empty({s.B, s.H, s.m, s.dh}, f32);
    st.ksum = torch::empty({s.B, s.H, s.m}, f32);
    st.g = torch::empty({s.B, s.H, s.m}, f32);
    st.den = torch::empty({s.B, s.H, s.N, 1}, f32);
    cu::astro_forward(dtype_of(q), q.data_ptr(), k.data_ptr(), v.data_ptr(), mask_ptr(mask),
                      R.defined() ? R.data_ptr<float>() : nullptr, s, scalars(opt), st.out.data_ptr(),
                      st.H.data_ptr<float>(), st.ksum.data_ptr<float>(), st.g.data_ptr<float>(),
                      st.den.data_ptr<float>(), current_stream());
    return st;
}

std::array<torch::Tensor, 4> cuda_attention_backward(const torch::Tensor& q_in, const torch::Tensor& k_in,
                                                     const torch::Tensor& v_in, const torch::Tensor& mask_in,
                                                     const torch::Tensor& R_in, const torch::Tensor& dout_in,
                                                     const AttentionState& st, const AstroAttentionOptions& opt) {
    const c10::cuda::CUDAGuard guard(q_in.device());
    const auto q = q_in.contiguous(), k = k_in.contiguous(), v = v_in.contiguous();
    const auto dout = dout_in.to(q.device(), q.scalar_type()).contiguous();
    const auto mask = mask_in.defined() ? mask_in.to(q.device(), torch::kBool).contiguous() : torch::Tensor();
    const auto R = R_in.defined() ? R_in.to(q.device(), torch::kFloat).contiguous() : torch::Tensor();
    const auto s = shape_of(q, v, R);
    const auto f32 = q.options().dtype(torch::kFloat);
    auto dq = torch::empty_like(q), dk = torch::empty_like(k), dv = torch::empty_like(v);
    torch::Tensor dR = R.defined() ? torch::empty({s.H, s.span, s.m}, f32) : torch::Tensor();
    auto work = torch::empty({s.B * s.H * s.m * (s.dh + 1)}, f32);
    const auto H = st.H.contiguous(), ksum = st.ksum.contiguous(), g = st.g.contiguous(), den = st.den.contiguous();
    cu::astro_backward(dtype_of(q), q.data_ptr(), k.data_ptr(), v.data_ptr(), mask_ptr(mask),
                       R.defined() ? R.data_ptr<float>() : nullptr, dout.data_ptr(), H.data_ptr<float>(),
                       ksum.data_ptr<float>(), g.data_ptr<float>(), den.data_ptr<float>(), s, scalars(opt),
                       dq.data_ptr(), dk.data_ptr(), dv.data_ptr(), dR.defined() ? dR.data_ptr<float>() : nullptr,
                       work.data_ptr<float>(), current_stream());
    if (dR.defined()) dR = dR.to(R_in.scalar_type());
    return {dq, dk, dv, dR};
}

bool cuda_decay_applies(const torch::Tensor& W) {
    return W.is_cuda() && (W.scalar_type() == torch::kFloat || W.scalar_type() == torch::kDouble);
}

torch::Tensor cuda_decay_product(const torch::Tensor& W_in, double scale) {
    const c10::cuda::CUDAGuard guard(W_in.device());
    const auto W = W_in.contiguous();
    auto out = torch::empty_like(W);
    const int64_t N = W.size(-2), m = W.size(-1), G = N * m == 0 ? 0 : W.numel() / (N * m);
    cu::decay_product(dtype_of(W), W.data_ptr(), out.data_ptr(), G, N, m, std::exp(-scale), current_stream());
    return out;
}

bool cuda_dropout_applies(const torch::Tensor& x) {
    return x.is_cuda();
}

torch::Tensor cuda_keyed_dropout(const torch::Tensor& x_in, const DropoutStream& s, double scale) {
    const c10::cuda::CUDAGuard guard(x_in.device());
    const auto x = x_in.contiguous();
    auto y = torch::empty_like(x, torch::MemoryFormat::Contiguous);
    cu::keyed_dropout(dtype_of(x), x.data_ptr(), y.data_ptr(), x.numel(), s, scale, current_stream());
    return y;
}

// index < 0: the current device (a torch::Device "cuda" without an index).
c10::DeviceIndex device_or_current(int index) {
    return index < 0 ? c10::cuda::current_device() : static_cast<c10::DeviceIndex>(index);
}

int64_t cuda_max_memory_allocated(int index) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device_or_current(index));
    return stats.allocated_bytes[0].peak;  // [0]: StatType::AGGREGATE (all pools)
}

void cuda_reset_max_memory_allocated(int index) {
    c10::cuda::CUDACachingAllocator::resetPeakStats(device_or_current(index));
}

#else  // no CUDA kernels in this build: the LibTorch paths serve every device

bool cuda_kernels_built() {
    return false;
}
bool cuda_attention_applies(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&) {
    return false;
}
AttentionState cuda_attention_forward(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&,
                                      const torch::Tensor&, const torch::Tensor&, const AstroAttentionOptions&) {
    throw std::runtime_error("astro attention: this build has no CUDA kernels");
}
std::array<torch::Tensor, 4> cuda_attention_backward(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&,
                                                     const torch::Tensor&, const torch::Tensor&, const torch::Tensor&,
                                                     const AttentionState&, const AstroAttentionOptions&) {
    throw std::runtime_error("astro attention: this build has no CUDA kernels");
}
bool cuda_decay_applies(const torch::Tensor&) {
    return false;
}
torch::Tensor cuda_decay_product(const torch::Tensor&, double) {
    throw std::runtime_error("decay_product: this build has no CUDA kernels");
}
bool cuda_dropout_applies(const torch::Tensor&) {
    return false;
}
torch::Tensor cuda_keyed_dropout(const torch::Tensor&, const DropoutStream&, double) {
    throw std::runtime_error("keyed_dropout: this build has no CUDA kernels");
}

int64_t cuda_max_memory_allocated(int) {
    return -1;
}

void cuda_reset_max_memory_allocated(int) {}

#endif

}  // namespace rmaat::kernels
