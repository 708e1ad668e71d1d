#include "layers/attention.hpp"

#include <cmath>
#include <stdexcept>

#include "kernels/astro_attention.hpp"
#include "kernels/decay_product.hpp"

namespace rmaat::layers {

double AttentionOptions::c() const {
    if (kind == AttentionKind::linear) return 1.0;
    return inv_m > 0 ? inv_m : 1.0 / static_cast<double>(m());
}

void AttentionOptions::validate() const {
    auto fail = [](const std::string& what) { throw std::invalid_argument("attention: " + what); };
    if (d_model < 1) fail("d_model = " + std::to_string(d_model) + " must be >= 1");
    if (n_heads < 1) fail("n_heads = " + std::to_string(n_heads) + " must be >= 1");
    if (d_model % n_heads != 0)
        fail("n_heads = " + std::to_string(n_heads) + " does not divide d_model = " + std::to_string(d_model));
    if (qk_dim < 0) fail("qk_dim must be >= 0 (0: d_model / n_heads)");
    if (kind == AttentionKind::astro && span < 1) fail("span must be >= 1");
    if (!(alpha > 0)) fail("alpha must be > 0");
    if (!(scale >= 0)) fail("scale must be >= 0");
    if (!(inv_m >= 0)) fail("inv_m must be >= 0 (0: 1/m)");
    if (!(eps > 0)) fail("eps must be > 0");
    if (!(dropout >= 0 && dropout < 1)) fail("dropout must be in [0, 1)");
}

AttentionImpl::AttentionImpl(const AttentionOptions& opt) : opt_(opt) {
    opt_.validate();
    const int64_t H = opt_.n_heads, m = opt_.m(), dh = opt_.head_dim(), d = opt_.d_model;
    query = register_module("query", torch::nn::Linear(d, H * m));
    key = register_module("key", torch::nn::Linear(d, H * m));
    value = register_module("value", torch::nn::Linear(d, H * dh));
    output = register_module("output", torch::nn::Linear(H * dh, d));
    if (opt_.kind == AttentionKind::astro) W_R = register_parameter("W_R", torch::randn({H, opt_.span, m}) * 0.02);
    drop = DropoutSite(opt_.dropout, kModelLayer, kAttentionOutput);
}

torch::Tensor AttentionImpl::astro_features() const {
    TORCH_CHECK(W_R.defined(), "astro_features: attention kind \"", kAttentionKinds.name(opt_.kind), "\" has no W_R");
    return kernels::phi(kernels::decay_product(W_R, opt_.scale));
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& mask, const torch::Tensor& R_phi) {
    TORCH_CHECK(x.dim() == 3 && x.size(2) == opt_.d_model, "attention: x must be [B, N, ", opt_.d_model, "], got ",
                x.sizes());
    const int64_t B = x.size(0), N = x.size(1), H = opt_.n_heads, m = opt_.m(), dh = opt_.head_dim();
    if (mask.defined())
        TORCH_CHECK(mask.dim() == 2 && mask.size(0) == B && mask.size(1) == N, "attention: mask must be [", B, ", ", N,
                    "], got ", mask.sizes());
    // q, k and v from one product with the three weights stacked: one pass over x forward and one
    // matrix product each for dx and dW backward, instead of three (parameters keep their names)
    const auto qkv = torch::linear(x, torch::cat({query->weight, key->weight, value->weight}),
                                   torch::cat({query->bias, key->bias, value->bias}));
    const auto parts = qkv.split_with_sizes({H * m, H * m, H * dh}, -1);  // backward: one cat
    auto q = parts[0].view({B, N, H, m}).transpose(1, 2);
    auto k = parts[1].view({B, N, H, m}).transpose(1, 2);
    auto v = parts[2].view({B, N, H, dh}).transpose(1, 2);
    auto o = opt_.kind == AttentionKind::softmax ? softmax(q, k, v, mask) : astro(q, k, v, mask, R_phi);
    o = o.transpose(1, 2).reshape({B, N, H * dh});
    return output(drop(o, is_training()));
}

torch::Tensor AttentionImpl::astro(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                   const torch::Tensor& mask, const torch::Tensor& R_phi) const {
    const bool linear = opt_.kind == AttentionKind::linear;
    kernels::AstroAttentionOptions ko;
    ko.alpha = linear ? 1.0 : opt_.alpha;
    ko.c = opt_.c();
    ko.eps = opt_.eps;
    ko.sigmoid_on_H = opt_.sigmoid_on_H && !linear;
    torch::Tensor R;
    if (!linear && opt_.astro_term) R = R_phi.defined() ? R_phi : astro_features();
    return kernels::astro_attention(q, k, v, mask, R, ko);
}

torch::Tensor AttentionImpl::softmax(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                     const torch::Tensor& mask) const {
    auto scores = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(opt_.m()));
    if (mask.defined()) {
        // A large finite negative, not -inf: a sample with no real key stays finite.
        const double lowest = q.scalar_type() == torch::kDouble ? -1e300 : -1e30;
        scores = scores.masked_fill(mask.logical_not().unsqueeze(1).unsqueeze(1), lowest);
    }
    return torch::matmul(torch::softmax(scores, -1), v);
}

}  // namespace rmaat::layers
