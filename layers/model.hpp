#pragma once
// The RMAAT model and its baselines in one module (docs/design.md section 5.2), selected by `kind`
// (layers/kinds.hpp: rmaat, rmt, rlt, transformer, at, linear).
//
// The model runs one step; the loop over segments lives in trainer/recurrence.hpp, so that BPTT and
// AMRB share one segment plan. Recurrent kinds give the trainer:
//   initial_memory(B)                     the M learnable memory tokens [B, M, d] (no position embedding)
//   encode_segment(mem_t, x_t, mask_t)    last layer's outputs for [mem_t ; x_t]; the first M rows are
//                                         mem'_{t+1}, segment tokens get learned absolute positions
//   retain(mem', mem_t, t, T)             mem_{t+1} = RF(t, T) mem' (paper), RF mem' + (1 - RF) mem_t
//                                         (blend) or mem' (none); RF from core/macro_parameters.hpp
//   pool_segment(out, mask_t)             the sample representation from one segment
// Whole-sequence kinds give encode_sequence(tokens, mask). Both end in head(u[, v]): a linear
// classifier, or the two-document matching head [u, v, u*v, u-v] -> MLP (Retrieval).
// Pooling: mean over real tokens, or "cls": a learned CLS token prepended to whole-sequence inputs;
// for recurrent kinds the first memory slot after the segment.
// Dropout is keyed (layers/dropout_site.hpp): the trainer names the step (set_dropout_step) and the
// segment about to run (set_segment), so a replayed segment draws the masks it drew before.
#include <torch/torch.h>

#include <vector>

#include "core/macro_parameters.hpp"
#include "layers/dropout_site.hpp"
#include "layers/encoder.hpp"
#include "layers/kinds.hpp"

namespace rmaat::layers {

struct ModelOptions {
    ModelKind kind = ModelKind::rmaat;
    int64_t vocab_size = 256;
    int64_t n_classes = 10;
    int64_t d_model = 128;
    int64_t n_heads = 4;
    int64_t n_layers = 2;
    int64_t d_ff = 512;
    double dropout = 0.1;
    bool pre_ln = false;
    int64_t max_len = 1024;                  // longest input sequence (tokens)
    int64_t segment_length = 128;            // recurrent kinds
    int64_t memory_tokens = 16;              // M, recurrent kinds
    Retention retention = Retention::paper;  // rmaat only; rlt and rmt keep mem' as it is
    Pooling pooling = Pooling::mean;
    Head head = Head::classify;
    // Attention options (alpha and scale come from the calibration).
    int64_t qk_dim = 0;
    bool astro_term = true;
    bool sigmoid_on_H = false;
    double inv_m = 0.0;

    bool recurrent() const { return model_kind_info(kind).recurrent; }
    int64_t segments(int64_t length) const { return (length + segment_length - 1) / segment_length; }
    // std::invalid_argument naming the option and the reason.
    void validate() const;
};

class ModelImpl : public torch::nn::Module {
public:
    // `macro` supplies alpha, scale and RF; for rmaat with retention its table must cover the segments
    // of max_len (InputError otherwise).
    ModelImpl(const ModelOptions& opt, const MacroParameters& macro);

    // phi(P_rel W_R) per layer (undefined where a layer has none): depends on parameters only, so the
    // trainer computes it once per step and hands it (or a detached copy, under AMRB) to every segment.
    std::vector<torch::Tensor> astro_features() const;

    // Recurrent kinds.
    torch::Tensor initial_memory(int64_t batch) const;  // [B, M, d]; undefined when M = 0
    // memory [B, M, d] or undefined; tokens, mask [B, n]. Returns [B, M + n, d].
    torch::Tensor encode_segment(const torch::Tensor& memory, const torch::Tensor& tokens, const torch::Tensor& mask,
                                 const std::vector<torch::Tensor>& features);
    torch::Tensor retain(const torch::Tensor& new_memory, const torch::Tensor& old_memory, int64_t t, int64_t T) const;
    // Representation [B, d] of one segment's output [B, M + n, d] (mean over its real tokens, or the
    // first memory slot with pooling "cls").
    torch::Tensor pool_segment(const torch::Tensor& out, const torch::Tensor& mask) const;

    // Whole-sequence kinds: representation [B, d] of tokens, mask [B, L].
    torch::Tensor encode_sequence(const torch::Tensor& tokens, const torch::Tensor& mask,
                                  const std::vector<torch::Tensor>& features);

    // Logits [B, n_classes] from one representation, or two (head "match").
    torch::Tensor head(const torch::Tensor& u, const torch::Tensor& v = {});

    const ModelOptions& options() const { return opt_; }
    const MacroParameters& macro() const { return macro_; }

    // The dropout key of what runs next (docs/design.md section 6.1): the optimiser step, and the
    // segment (0 for whole-sequence kinds; the second document of head "match" adds
    // kSecondDocumentSegments). The head always uses kHeadSegment.
    void set_dropout_step(uint64_t seed, int64_t step);
    void set_segment(int64_t segment);
    const DropoutStep& dropout_step() const { return *dropout_step_; }
    static constexpr int64_t kSecondDocumentSegments = 1'000'000;

    torch::nn::Embedding token_embedding{nullptr}, position_embedding{nullptr};
    torch::nn::ModuleList layers{nullptr};
    torch::Tensor memory, cls;
    torch::nn::Linear classifier{nullptr}, match_hidden{nullptr};

private:
    torch::Tensor run_layers(torch::Tensor h, const torch::Tensor& mask, const std::vector<torch::Tensor>& features);
    ModelOptions opt_;
    MacroParameters macro_;
    std::shared_ptr<DropoutStep> dropout_step_ = std::make_shared<DropoutStep>();
    DropoutSite drop_embedding, drop_classifier;  // layer kModelLayer
};
TORCH_MODULE(Model);

}  // namespace rmaat::layers
