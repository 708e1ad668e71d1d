#include "kernels/decay_product.hpp"

#include "kernels/cuda_dispatch.hpp"

#include <cmath>
#include <vector>

namespace rmaat::kernels {

namespace {

// out = P_rel w for each of G blocks of N x m values (row-major), r = exp(-scale).
template <typename T>
void scan(const T* w, T* out, int64_t G, int64_t N, int64_t m, T r) {
    std::vector<T> acc(m);
    for (int64_t g = 0; g < G; ++g) {
        const T* W = w + g * N * m;
        T* O = out + g * N * m;
        // Forward scan f_i = W_i + r f_{i-1}: the terms with j <= i.
        std::fill(acc.begin(), acc.end(), T(0));
        for (int64_t i = 0; i < N; ++i)
            for (int64_t k = 0; k < m; ++k) O[i * m + k] = acc[k] = W[i * m + k] + r * acc[k];
        // Backward scan b_i = W_i + r b_{i+1} adds the terms with j > i.
        std::fill(acc.begin(), acc.end(), T(0));
        for (int64_t i = N - 1; i >= 0; --i)
            for (int64_t k = 0; k < m; ++k) {
                acc[k] = W[i * m + k] + r * acc[k];
                O[i * m + k] += acc[k] - W[i * m + k];
            }
    }
}

// Float or double: the sums run over the whole span, so half precision is widened.
torch::ScalarType scan_type(const torch::Tensor& W) {
    return W.scalar_type() == torch::kDouble ? torch::kDouble : torch::kFloat;
}

void check_shape(const torch::Tensor& W) {
    TORCH_CHECK(W.dim() >= 2, "decay_product: W needs at least 2 dimensions, got ", W.dim());
}

// Inclusive scan f_i = x_i + r f_{i-1} along dim -2 by doubling: after the step with shift d,
// f_i = sum_{i-2d < j <= i} r^(i-j) x_j. log2(N) steps of plain tensor ops.
torch::Tensor forward_scan_doubling(torch::Tensor f, double r) {
    const int64_t N = f.size(-2);
    for (int64_t d = 1; d < N; d *= 2) {
        const double rd = std::pow(r, static_cast<double>(d));
        if (rd == 0.0) break;  // the remaining terms underflow
        f = torch::cat({f.narrow(-2, 0, d), f.narrow(-2, d, N - d) + rd * f.narrow(-2, 0, N - d)}, -2);
    }
    return f;
}

torch::Tensor dispatch(const torch::Tensor& W, double scale) {
    if (W.device().is_cpu()) return decay_product_sequential(W, scale);
    if (cuda_decay_applies(W)) return cuda_decay_product(W, scale);  // kernels/cuda/: the same two scans
    return decay_product_doubling(W, scale);
}

// P_rel is symmetric, so the gradient is the same product applied to the incoming gradient.
struct DecayProduct : public torch::autograd::Function<DecayProduct> {
    static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& W, double scale) {
        ctx->saved_data["scale"] = scale;
        return dispatch(W, scale);
    }
    static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::tensor_list grads) {
        const double scale = ctx->saved_data["scale"].toDouble();
        return {dispatch(grads[0], scale), torch::Tensor()};
    }
};

}  // namespace

torch::Tensor decay_product(const torch::Tensor& W, double scale) {
    return DecayProduct::apply(W, scale);
}

torch::Tensor decay_product_sequential(const torch::Tensor& W, double scale) {
    check_shape(W);
    TORCH_CHECK(W.device().is_cpu(), "decay_product_sequential: CPU tensors only, got ", W.device());
    torch::Tensor w = W.to(scan_type(W)).contiguous();
    torch::Tensor out = torch::empty_like(w);
    const int64_t N = w.size(-2), m = w.size(-1);
    const int64_t G = N * m == 0 ? 0 : w.numel() / (N * m);
    if (w.scalar_type() == torch::kDouble)
        scan<double>(w.data_ptr<double>(), out.data_ptr<double>(), G, N, m, std::exp(-scale));
    else
        scan<float>(w.data_ptr<float>(), out.data_ptr<float>(), G, N, m, static_cast<float>(std::exp(-scale)));
    return out.to(W.scalar_type());
}

torch::Tensor decay_product_doubling(const torch::Tensor& W, double scale) {
    check_shape(W);
    const torch::Tensor w = W.to(scan_type(W));
    const double r = std::exp(-scale);
    auto f = forward_scan_doubling(w, r);
    auto b = forward_scan_doubling(w.flip(-2), r).flip(-2);
    return (f + b - w).to(W.scalar_type());
}

torch::Tensor decay_product_dense(const torch::Tensor& W, double scale) {
    const int64_t N = W.size(-2);
    auto idx = torch::arange(N, W.options());
    auto P = torch::exp(-(idx.unsqueeze(1) - idx.unsqueeze(0)).abs() * scale);
    return torch::matmul(P, W);
}

}  // namespace rmaat::kernels
