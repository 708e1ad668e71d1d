#include "trainer/optim.hpp"

#include <algorithm>
#include <cmath>

namespace rmaat::trainer {

double learning_rate(Schedule s, double lr, int64_t warmup, int64_t max_steps, int64_t t) {
    const double w = static_cast<double>(std::max<int64_t>(warmup, 1));
    const double S = static_cast<double>(std::max<int64_t>(max_steps, 1));
    const double x = std::min(static_cast<double>(std::max<int64_t>(t, 1)), S);
    const double ramp = std::min(1.0, x / w);
    switch (s) {
        case Schedule::rsqrt: return lr * ramp / std::sqrt(std::max(x, w));
        case Schedule::cosine:
            if (x < w || S <= w) return lr * ramp;
            return lr * 0.5 * (1.0 + std::cos(M_PI * (x - w) / (S - w)));
        case Schedule::constant: return lr * ramp;
    }
    return lr;
}

AdamW::AdamW(std::vector<torch::Tensor> params, AdamWOptions opt) : params_(std::move(params)), opt_(opt) {
    for (const auto& p : params_) {
        m_.push_back(torch::zeros(p.sizes(), p.options()));
        v_.push_back(torch::zeros(p.sizes(), p.options()));
    }
}

void AdamW::step(double lr) {
    torch::NoGradGuard no_grad;
    ++step_;
    const double bc1 = 1.0 - std::pow(opt_.beta1, static_cast<double>(step_));
    const double bc2 = 1.0 - std::pow(opt_.beta2, static_cast<double>(step_));
    for (size_t i = 0; i < params_.size(); ++i) {
        auto& p = params_[i];
        const auto& g = p.grad();
        if (!g.defined()) continue;
        if (opt_.weight_decay != 0.0) p.mul_(1.0 - lr * opt_.weight_decay);
        m_[i].mul_(opt_.beta1).add_(g, 1.0 - opt_.beta1);
        v_[i].mul_(opt_.beta2).addcmul_(g, g, 1.0 - opt_.beta2);
        // The same operation order as torch::optim::AdamW (non-amsgrad).
        const auto denom = (v_[i].sqrt() / std::sqrt(bc2)).add_(opt_.eps);
        p.addcdiv_(m_[i], denom, -lr / bc1);
    }
}

void AdamW::zero_grad() {
    for (auto& p : params_) {
        auto& g = p.mutable_grad();
        if (g.defined()) {
            g.detach_();
            g.zero_();
        }
    }
}

double clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm) {
    torch::NoGradGuard no_grad;
    double sq = 0.0;
    for (const auto& p : params)
        if (p.grad().defined()) sq += p.grad().to(torch::kDouble).pow(2).sum().item<double>();
    const double norm = std::sqrt(sq);
    if (max_norm > 0.0 && norm > max_norm) {
        const double scale = max_norm / (norm + 1e-6);
        for (const auto& p : params)
            if (p.grad().defined()) p.mutable_grad().mul_(scale);
    }
    return norm;
}

}  // namespace rmaat::trainer
