#pragma once
// One dropout call site of the model (docs/design.md section 5.4): the counter-based dropout of
// kernels/dropout.hpp with a fixed (layer, site) id and the (seed, step, segment) the trainer set on
// the model. Its masks are a function of that key alone, so AMRB's replay of a segment draws what
// the forward pass drew (section 6.1).
//
//   y = x keep / (1 - p),  keep from Philox(seed, step, segment, layer, site, element index)
#include <memory>

#include "kernels/dropout.hpp"
#include "kernels/gelu_dropout.hpp"

namespace rmaat::layers {

// The part of the key the trainer sets; shared by every site of one model.
struct DropoutStep {
    uint64_t seed = 0;
    int64_t step = 0;
    int64_t segment = 0;
};

// Site ids: per encoder layer (layer = its index) and per model (layer = kModelLayer).
enum DropoutSiteId : int32_t {
    kAttentionOutput = 0,    // attention output, before the output projection
    kAttentionResidual = 1,  // residual branch of the attention sublayer
    kFeedForwardHidden = 2,  // after GELU
    kFeedForwardOutput = 3,  // residual branch of the feed-forward sublayer
    kEmbedding = 0,          // token + position embedding (layer kModelLayer)
    kClassifierInput = 1,    // pooled representation or the match head's hidden layer
};
inline constexpr int32_t kModelLayer = -1;
// The head runs once per step, after all segments: its masks take this segment id.
inline constexpr int64_t kHeadSegment = -1;

class DropoutSite {
public:
    DropoutSite() = default;
    DropoutSite(double p, int32_t layer, int32_t site) : p_(p), layer_(layer), site_(site) {}

    // The model shares its step with every site (a module built alone keeps its own, all zero).
    void bind(std::shared_ptr<const DropoutStep> step, int32_t layer) {
        step_ = std::move(step);
        layer_ = layer;
    }

    torch::Tensor operator()(const torch::Tensor& x, bool training) const {
        return kernels::keyed_dropout(x, p_, key(), training);
    }
    // The same, under another segment id (the head).
    torch::Tensor operator()(const torch::Tensor& x, bool training, int64_t segment) const {
        auto k = key();
        k.segment = segment;
        return kernels::keyed_dropout(x, p_, k, training);
    }

    // gelu(x) through this site in one pass (kernels/gelu_dropout.hpp): the masks of operator() applied
    // to torch::gelu(x), to float rounding.
    torch::Tensor gelu(const torch::Tensor& x, bool training) const {
        return kernels::gelu_dropout(x, p_, key(), training);
    }

    kernels::DropoutKey key() const { return {step_->seed, step_->step, step_->segment, layer_, site_}; }
    double p() const { return p_; }

private:
    double p_ = 0.0;
    int32_t layer_ = kModelLayer, site_ = 0;
    std::shared_ptr<const DropoutStep> step_ = std::make_shared<DropoutStep>();
};

}  // namespace rmaat::layers
