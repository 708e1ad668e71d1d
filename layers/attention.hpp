#pragma once
// Multi-head attention of the RMAAT model and its baselines (docs/design.md section 5.1), one module:
//   astro   astromorphic linear attention: phi = elu + 1,
//           H_neuron = c phi(K)^T V,  H_astro = c phi(R)^T V with R = P_rel W_R (position decay `scale`),
//           g = (sum_n phi(k_n))^alpha,  out_n = phi(q_n) (H_neuron + H_astro) / (phi(q_n) . g + eps)
//   linear  Katharopoulos linear attention (astro with alpha = 1, no astro term, c = 1)
//   softmax scaled dot-product attention (forms N x N; the Transformer / RMT baselines)
// Inputs x [B, N, d_model] and a mask [B, N] (true: real token). Padded tokens have their rows of
// phi(K) and V zeroed, so they enter no sum (phi(R) is positive and data-independent, so masking
// phi(K) alone would not be enough). The maths runs in kernels/ (kernels/astro_attention.hpp): this
// module holds the parameters and the projections and never asks which device it runs on.
#include <torch/torch.h>

#include <string>

#include "layers/dropout_site.hpp"
#include "layers/kinds.hpp"

namespace rmaat::layers {

struct AttentionOptions {
    AttentionKind kind = AttentionKind::astro;
    int64_t d_model = 128;
    int64_t n_heads = 4;
    int64_t qk_dim = 0;         // m, query/key width per head; 0: d_model / n_heads
    int64_t span = 512;         // first dimension of W_R: the longest input (memory + segment)
    double alpha = 0.25;        // exponent of the normaliser g (calibration, else 0.25)
    double scale = 0.1;         // position-decay scale per token (calibration, else 0.1)
    bool astro_term = true;     // H_astro on/off
    bool sigmoid_on_H = false;  // sigmoid on H_neuron + H_astro
    double inv_m = 0.0;         // c; 0: 1/m. Scales H only, not the denominator.
    double eps = 1e-6;
    double dropout = 0.0;  // on the attention output, before the output projection (keyed, layers/dropout_site.hpp)

    int64_t head_dim() const { return d_model / n_heads; }
    int64_t m() const { return qk_dim > 0 ? qk_dim : head_dim(); }
    // c = 1/m unless inv_m is given; 1 for the linear kind.
    double c() const;
    // std::invalid_argument naming the option and the reason.
    void validate() const;
};

class AttentionImpl : public torch::nn::Module {
public:
    explicit AttentionImpl(const AttentionOptions& opt);

    // x [B, N, d_model], mask [B, N] bool (true = real) or undefined (all real).
    // R_phi: phi(P_rel W_R) [H, >= N, m] precomputed for this step (see astro_features()), or
    // undefined to compute it here.
    torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask = {}, const torch::Tensor& R_phi = {});

    // phi(P_rel W_R) over the whole span [H, span, m]; depends only on parameters, so callers compute
    // it once per optimiser step and pass the same tensor (or a detached copy, under AMRB) to every
    // segment. Rows [0, N) serve an input of N tokens, so R does not depend on padding.
    torch::Tensor astro_features() const;

    const AttentionOptions& options() const { return opt_; }
    // Shares the model's dropout step; `layer` is this attention's encoder layer.
    void bind_dropout(std::shared_ptr<const DropoutStep> step, int32_t layer) { drop.bind(std::move(step), layer); }

    torch::nn::Linear query{nullptr}, key{nullptr}, value{nullptr}, output{nullptr};
    torch::Tensor W_R;  // [H, span, m] (astro kind only)

private:
    torch::Tensor astro(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        const torch::Tensor& mask, const torch::Tensor& R_phi) const;
    torch::Tensor softmax(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                          const torch::Tensor& mask) const;
    AttentionOptions opt_;
    DropoutSite drop;  // site kAttentionOutput
};
TORCH_MODULE(Attention);

}  // namespace rmaat::layers
