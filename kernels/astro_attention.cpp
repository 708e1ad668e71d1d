#include "kernels/astro_attention.hpp"

#include <limits>

#include "kernels/astro_attention_cpu.hpp"
#include "kernels/cuda_dispatch.hpp"

namespace rmaat::kernels {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

// Sums over tokens run in fp32 at least (bf16 and fp16 inputs).
torch::ScalarType accumulate_type(const torch::Tensor& q) {
    return q.scalar_type() == torch::kDouble ? torch::kDouble : torch::kFloat;
}

void check_inputs(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, const torch::Tensor& mask,
                  const torch::Tensor& R_phi) {
    TORCH_CHECK(q.dim() == 4 && k.sizes() == q.sizes(), "astro_attention: q and k must be [B, H, N, m], got ",
                q.sizes(), " and ", k.sizes());
    TORCH_CHECK(v.dim() == 4 && v.size(0) == q.size(0) && v.size(1) == q.size(1) && v.size(2) == q.size(2),
                "astro_attention: v must be [B, H, N, d_h] with q's B, H, N, got ", v.sizes());
    if (mask.defined())
        TORCH_CHECK(mask.dim() == 2 && mask.size(0) == q.size(0) && mask.size(1) == q.size(2),
                    "astro_attention: mask must be [B, N] = [", q.size(0), ", ", q.size(2), "], got ", mask.sizes());
    if (R_phi.defined())
        TORCH_CHECK(R_phi.dim() == 3 && R_phi.size(0) == q.size(1) && R_phi.size(2) == q.size(3),
                    "astro_attention: R_phi must be [H, span, m] = [", q.size(1), ", span, ", q.size(3), "], got ",
                    R_phi.sizes());
    if (R_phi.defined())
        TORCH_CHECK(R_phi.size(1) >= q.size(2), "attention: input of ", q.size(2), " tokens exceeds the span ",
                    R_phi.size(1), " of W_R");
}

// A power with a finite gradient where a sample has no real token (zero sum).
torch::Tensor normaliser(const torch::Tensor& ksum, double alpha) {
    return alpha == 1.0 ? ksum : ksum.clamp_min(std::numeric_limits<float>::min()).pow(alpha);
}

// [B, 1, N, 1] of 0/1 in dtype `acc`.
torch::Tensor mask_rows(const torch::Tensor& mask, torch::ScalarType acc) {
    return mask.to(acc).unsqueeze(1).unsqueeze(-1);
}

// The forward pass shared by the autograd Function (no graph) and its backward (recomputation).
struct Forward {
    torch::Tensor pq, pk, v, R, H, ksum, g, den, out;
};

Forward forward_pass(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v_in,
                     const torch::Tensor& mask, const torch::Tensor& R_phi, const AstroAttentionOptions& opt) {
    const auto acc = accumulate_type(q);
    const int64_t N = q.size(2);
    Forward f;
    f.pq = phi(q.to(acc));
    f.pk = phi(k.to(acc));
    f.v = v_in.to(acc);
    if (mask.defined()) {
        const auto mf = mask_rows(mask, acc);
        f.pk = f.pk * mf;
        f.v = f.v * mf;
    }
    // phi(K)^T V + phi(R)^T V = (phi(K) + phi(R))^T V: one batched product for both terms
    f.R = R_phi.defined() ? R_phi.narrow(1, 0, N).to(acc) : torch::Tensor();  // [H, N, m]
    const auto keys = f.R.defined() ? f.pk + f.R : f.pk;
    f.H = torch::matmul(keys.transpose(-2, -1), f.v) * opt.c;  // [B, H, m, d_h]
    if (opt.sigmoid_on_H) f.H = torch::sigmoid(f.H);
    f.ksum = f.pk.sum(-2);  // [B, H, m]
    f.g = normaliser(f.ksum, opt.alpha);
    // numerator and denominator in one product: phi(q_n) [H | g] = [phi(q_n) H | phi(q_n) . g]
    const int64_t dh = f.v.size(-1);
    const auto num_den = torch::matmul(f.pq, torch::cat({f.H, f.g.unsqueeze(-1)}, -1));  // [B, H, N, d_h + 1]
    f.den = num_den.narrow(-1, dh, 1) + opt.eps;                                         // [B, H, N, 1]
    f.out = num_den.narrow(-1, 0, dh) / f.den;                                           // [B, H, N, d_h]
    return f;
}

// Forward without a graph; backward by hand. The graph keeps the inputs and the small state
// (H [m x d_h], ksum and g [m], den [N]): the N-sized feature maps are recomputed (element-wise), and
// nothing of the output is needed (dD is formed from dnum H^T, which dphi(Q) needs anyway).
struct AstroAttentionFunction : public torch::autograd::Function<AstroAttentionFunction> {
    // LibTorch 1.13 records device and dtype of every tensor argument, so an absent mask or R_phi
    // travels as an empty placeholder with a flag.
    static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& q, const torch::Tensor& k,
                                 const torch::Tensor& v, const torch::Tensor& mask_arg, const torch::Tensor& R_arg,
                                 bool has_mask, bool has_R, double alpha, double c, double eps, bool sigmoid_on_H) {
        const AstroAttentionOptions opt{alpha, c, eps, sigmoid_on_H};
        c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);  // sums stay in fp32
        const torch::Tensor mask = has_mask ? mask_arg : torch::Tensor();
        const torch::Tensor R_phi = has_R ? R_arg : torch::Tensor();
        ctx->saved_data["has_mask"] = has_mask;
        ctx->saved_data["has_R"] = has_R;
        ctx->saved_data["alpha"] = alpha;
        ctx->saved_data["c"] = c;
        ctx->saved_data["sigmoid_on_H"] = sigmoid_on_H;
        if (cuda_attention_applies(q, k, v)) {  // the CUDA kernels (kernels/cuda/): the same saved state
            AttentionState st = cuda_attention_forward(q, k, v, mask, R_phi, opt);
            ctx->save_for_backward({q, k, v, mask_arg, R_arg, st.H, st.ksum, st.g, st.den});
            return st.out;
        }
        if (cpu_attention_applies(q, k, v)) {  // fp32/fp64 CPU tensors: kernels/astro_attention_cpu.hpp
            AttentionState st = cpu_attention_forward(q, k, v, mask, R_phi, opt);
            ctx->save_for_backward({q, k, v, mask_arg, R_arg, st.H, st.ksum, st.g, st.den});
            return st.out;
        }
        Forward f = forward_pass(q, k, v, mask, R_phi, opt);
        ctx->save_for_backward({q, k, v, mask_arg, R_arg, f.H, f.ksum, f.g, f.den});
        return f.out.to(q.scalar_type());
    }

    // With dO the incoming gradient and D = den (acc precision):
    //   dnum = dO / D,  P = dnum H^T,  dD_n = -phi(q_n) . P_n / D_n   (= -sum_j dO_nj out_nj / D_n)
    //   dphi(Q) = P + dD g^T,   dH = phi(Q)^T dnum,   dg = phi(Q)^T dD
    //   dA = c dH (times H (1 - H) after a sigmoid),   A = phi(K)^T V + phi(R)^T V
    //   dphi(K) = V dA^T + alpha ksum^(alpha-1) dg,   dV = (phi(K) + phi(R)) dA,   dphi(R) = sum_b V dA^T
    //   masked rows get no gradient; phi'(z) = 1 for z > 0 and exp(z) = phi(z) otherwise, i.e.
    //   min(phi(z), 1).
    static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
        const auto saved = ctx->get_saved_variables();
        const torch::Tensor &q = saved[0], &k = saved[1], &v_in = saved[2];
        const torch::Tensor mask = ctx->saved_data["has_mask"].toBool() ? saved[3] : torch::Tensor();
        const torch::Tensor R_phi = ctx->saved_data["has_R"].toBool() ? saved[4] : torch::Tensor();
        const torch::Tensor &H = saved[5], &ksum = saved[6], &g = saved[7], &den = saved[8];
        const double alpha = ctx->saved_data["alpha"].toDouble(), c = ctx->saved_data["c"].toDouble();
        const bool sigmoid_on_H = ctx->saved_data["sigmoid_on_H"].toBool();
        torch::NoGradGuard no_grad;
        c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
        const torch::Tensor none;
        if (cuda_attention_applies(q, k, v_in)) {
            const AstroAttentionOptions opt{alpha, c, 0.0, sigmoid_on_H};  // eps is inside den already
            const auto d = cuda_attention_backward(q, k, v_in, mask, R_phi, grads[0], {{}, H, ksum, g, den}, opt);
            return {d[0], d[1], d[2], none, d[3], none, none, none, none, none, none};
        }
        if (cpu_attention_applies(q, k, v_in)) {
            const AstroAttentionOptions opt{alpha, c, 0.0, sigmoid_on_H};
            const auto d = cpu_attention_backward(q, k, v_in, mask, R_phi, grads[0], {{}, H, ksum, g, den}, opt);
            return {d[0], d[1], d[2], none, d[3], none, none, none, none, none, none};
        }
        const auto acc = accumulate_type(q);
        const int64_t N = q.size(2);

        torch::Tensor mf;
        auto pq = phi(q.to(acc));
        auto pk = phi(k.to(acc));
        auto vm = v_in.to(acc);
        if (mask.defined()) {
            mf = mask_rows(mask, acc);
            pk.mul_(mf);
            vm = vm * mf;  // not in place: vm may be the input itself
        }

        const auto dnum = grads[0].to(acc) / den;                                 // [B, H, N, d_h]
        auto dpq = torch::matmul(dnum, H.transpose(-2, -1));                      // P: [B, H, N, m]
        const auto dden = (pq * dpq).sum(-1, /*keepdim=*/true).div_(den).neg_();  // [B, H, N, 1]
        // dH and dg in one product: phi(Q)^T [dnum | dden]
        const auto dHg = torch::matmul(pq.transpose(-2, -1), torch::cat({dnum, dden}, -1));  // [B, H, m, d_h + 1]
        auto dH = dHg.narrow(-1, 0, dnum.size(-1));
        const auto dg = dHg.select(-1, dnum.size(-1));  // [B, H, m]
        dpq.add_(dden * g.unsqueeze(-2));
        const auto dq = dpq.mul_(pq.clamp_max_(1.0));  // phi'(q) = min(phi(q), 1)

        if (sigmoid_on_H) dH = dH * H * (1 - H);
        const auto dA = dH.mul_(c);
        auto dpk = torch::matmul(vm, dA.transpose(-2, -1));  // V dA^T: [B, H, N, m]
        torch::Tensor dR_phi;
        if (R_phi.defined()) {
            dR_phi = torch::zeros(R_phi.sizes(), R_phi.options());
            dR_phi.narrow(1, 0, N).copy_(dpk.sum(0));
        }
        if (alpha == 1.0) {
            dpk.add_(dg.unsqueeze(-2));
        } else {
            // d/ds of clamp_min(s, tiny)^alpha: zero where the clamp is active.
            const auto tiny = std::numeric_limits<float>::min();
            dpk.add_((dg * alpha * ksum.clamp_min(tiny).pow(alpha - 1) * (ksum >= tiny).to(acc)).unsqueeze(-2));
        }
        // phi(K) dA + phi(R) dA in one product, before pk is overwritten below
        auto dv = torch::matmul(R_phi.defined() ? pk + R_phi.narrow(1, 0, N).to(acc) : pk, dA);  // [B, H, N, d_h]
        if (mask.defined()) dv.mul_(mf);
        // phi'(k) = min(phi(k), 1); masked rows of pk are 0, so their keys get no gradient.
        const auto dk = dpk.mul_(pk.clamp_max_(1.0));
        return {dq.to(q.scalar_type()),
                dk.to(k.scalar_type()),
                dv.to(v_in.scalar_type()),
                none,
                dR_phi,
                none,
                none,
                none,
                none,
                none,
                none};
    }
};

}  // namespace

torch::Tensor phi(const torch::Tensor& z) {
    return torch::elu(z) + 1.0;
}

torch::Tensor astro_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                              const torch::Tensor& mask, const torch::Tensor& R_phi, const AstroAttentionOptions& opt) {
    check_inputs(q, k, v, mask, R_phi);
    const auto placeholder = torch::empty({0}, q.options());
    return AstroAttentionFunction::apply(q, k, v, mask.defined() ? mask : placeholder,
                                         R_phi.defined() ? R_phi : placeholder, mask.defined(), R_phi.defined(),
                                         opt.alpha, opt.c, opt.eps, opt.sigmoid_on_H);
}

torch::Tensor astro_attention_reference(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                        const torch::Tensor& mask, const torch::Tensor& R_phi,
                                        const AstroAttentionOptions& opt) {
    check_inputs(q, k, v, mask, R_phi);
    return forward_pass(q, k, v, mask, R_phi, opt).out.to(q.scalar_type());
}

}  // namespace rmaat::kernels
