#pragma once
// The optimiser, its learning-rate schedule and gradient clipping (docs/design.md section 6.2).
//
// AdamW with decoupled weight decay (Loshchilov & Hutter), per parameter p with gradient g, step t
// counted from 1, learning rate lr_t (1/step), decay wd (1/step, scaled by lr_t as PyTorch does):
//
//   p <- p - lr_t wd p
//   m <- b1 m + (1 - b1) g            v <- b2 v + (1 - b2) g^2
//   p <- p - lr_t (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
//
// Written by hand over the parameter list (m, v per parameter, one step counter) rather than
// torch::optim::AdamW, so its whole state is a few named tensors that a checkpoint stores and
// restores bit for bit in every LibTorch version. The decay applies to every parameter, as
// torch::optim::AdamW does by default (a test compares the two).
//
// Schedules (kSchedules), step t >= 1, base rate lr, warm-up w >= 1 steps, last step S:
//   rsqrt    LRA's constant * linear_warmup * rsqrt_decay: lr_t = lr min(1, t/w) / sqrt(max(t, w));
//            effective peak lr / sqrt(w) at t = w
//   cosine   lr_t = lr t/w for t < w, then lr (1 + cos(pi (t - w) / (S - w))) / 2, 0 at t = S
//   constant lr_t = lr min(1, t/w)
//
// Clipping by global norm: with n = sqrt(sum over parameters of |g|^2) and c > 0, every gradient is
// scaled by c / n when n > c.
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/choices.hpp"

namespace rmaat::trainer {

enum class Schedule { rsqrt, cosine, constant };
inline constexpr Choice<Schedule> kScheduleRows[] = {
    {Schedule::rsqrt, "rsqrt", "LRA: lr min(1, t/warmup) / sqrt(max(t, warmup)), peak lr/sqrt(warmup)"},
    {Schedule::cosine, "cosine", "linear warm-up to lr, then cosine to 0 at the last step"},
    {Schedule::constant, "constant", "linear warm-up to lr, then constant"},
};
inline constexpr ChoiceTable kSchedules{"learning-rate schedule", kScheduleRows};

// lr_t for step t >= 1 (t above max_steps is treated as max_steps).
double learning_rate(Schedule s, double lr, int64_t warmup, int64_t max_steps, int64_t t);

struct AdamWOptions {
    double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
};

class AdamW {
public:
    AdamW(std::vector<torch::Tensor> params, AdamWOptions opt);
    // One step at learning rate lr over the parameters' .grad (a parameter without one is skipped,
    // as in PyTorch, and its moments stay as they are).
    void step(double lr);
    void zero_grad();
    int64_t steps() const { return step_; }
    // The state for checkpoints: exp_avg (m) and exp_avg_sq (v), one per parameter in order.
    std::vector<torch::Tensor>& m() { return m_; }
    std::vector<torch::Tensor>& v() { return v_; }
    void set_steps(int64_t s) { step_ = s; }
    const AdamWOptions& options() const { return opt_; }

private:
    std::vector<torch::Tensor> params_, m_, v_;
    AdamWOptions opt_;
    int64_t step_ = 0;
};

// The global gradient norm before clipping; scales the gradients to norm `max_norm` when above it
// (max_norm <= 0: no clipping). Computed in double so the result does not depend on the thread count.
double clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm);

}  // namespace rmaat::trainer
