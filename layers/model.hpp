#pragma once
// The RMAAT model and its baselines in one module (SPEC 5.2), selected by `kind`:
//   rmaat        astromorphic attention + M memory tokens, segment recurrence, retention (paper form)
//   rmt          softmax attention + memory tokens (recurrent memory transformer)
//   rlt          linear attention + memory, no retention, no astro term
//   transformer  softmax attention over the whole sequence
//   at           astromorphic attention over the whole sequence, no recurrence
//   linear       linear transformer (Katharopoulos) over the whole sequence
//
// Segment-recurrent kinds cut a padded batch of length L into T = ceil(L / segment_length)
// segments. Segment t sees [mem_t ; x_t] (memory without position embedding, segment tokens with
// learned absolute positions); the last layer's outputs at the memory positions are mem'_{t+1}, and
// retention gives mem_{t+1} = RF(t, T) mem'_{t+1} (paper), RF mem' + (1 - RF) mem_t (blend) or mem'
// (none). RF comes from a calibration (calibration/macro_parameters.hpp).
//
// Heads: classification from each sample's last segment holding real tokens (mean over its real
// tokens, or "cls": a learned CLS token prepended to whole-sequence inputs; for recurrent kinds the
// first memory slot after that segment), and the two-document matching head [u, v, u*v, u-v] -> MLP.
#include <torch/torch.h>

#include <string>
#include <vector>

#include "calibration/macro_parameters.hpp"
#include "layers/encoder.hpp"

namespace rmaat::layers {

struct ModelOptions {
    std::string kind = "rmaat";
    int64_t vocab_size = 256;
    int64_t n_classes = 10;
    int64_t d_model = 128;
    int64_t n_heads = 4;
    int64_t n_layers = 2;
    int64_t d_ff = 512;
    double dropout = 0.1;
    bool pre_ln = false;
    int64_t max_len = 1024;           // longest input sequence (tokens)
    int64_t segment_length = 128;     // recurrent kinds
    int64_t memory_tokens = 16;       // M, recurrent kinds
    std::string retention = "paper";  // paper, blend, none (rmaat; rlt and rmt use none)
    std::string pooling = "mean";     // mean, cls
    std::string head = "classify";    // classify, match (two documents)
    // Attention options (alpha and scale default to the calibration's).
    int64_t qk_dim = 0;
    bool astro_term = true;
    bool sigmoid_on_H = false;
    double inv_m = 0.0;

    bool recurrent() const { return kind == "rmaat" || kind == "rmt" || kind == "rlt"; }
    int64_t segments(int64_t length) const { return (length + segment_length - 1) / segment_length; }
    // std::invalid_argument naming the option and the reason.
    void validate() const;
};

struct ModelOutput {
    torch::Tensor logits;               // [B, n_classes]
    std::vector<torch::Tensor> memory;  // mem_1 .. mem_T (after retention), recurrent kinds
};

class ModelImpl : public torch::nn::Module {
public:
    // `macro` supplies alpha, scale and RF; its table must cover the segments of max_len.
    ModelImpl(const ModelOptions& opt, const calib::MacroParameters& macro);

    // tokens [B, L] int64, mask [B, L] bool (true = real). For head "match", tokens2/mask2 hold the
    // second document.
    ModelOutput forward(const torch::Tensor& tokens, const torch::Tensor& mask, const torch::Tensor& tokens2 = {},
                        const torch::Tensor& mask2 = {});

    // Building blocks for trainers (AMRB replays segments one at a time).
    torch::Tensor initial_memory(int64_t batch) const;  // [B, M, d]
    std::vector<torch::Tensor> astro_features() const;  // per layer, once per step
    // One segment: returns the last layer's outputs [B, M + n, d] for [mem ; x_t].
    torch::Tensor encode_segment(const torch::Tensor& memory, const torch::Tensor& tokens, const torch::Tensor& mask,
                                 const std::vector<torch::Tensor>& features);
    torch::Tensor retain(const torch::Tensor& new_memory, const torch::Tensor& old_memory, int64_t t, int64_t T) const;
    // Sequence representation [B, d] of one document.
    torch::Tensor encode(const torch::Tensor& tokens, const torch::Tensor& mask,
                         std::vector<torch::Tensor>* memories = nullptr);

    const ModelOptions& options() const { return opt_; }
    const calib::MacroParameters& macro() const { return macro_; }

    torch::nn::Embedding token_embedding{nullptr}, position_embedding{nullptr};
    torch::nn::ModuleList layers{nullptr};
    torch::Tensor memory, cls;
    torch::nn::Linear classifier{nullptr}, match_hidden{nullptr};
    torch::nn::Dropout drop{nullptr};

private:
    torch::Tensor run_layers(torch::Tensor h, const torch::Tensor& mask, const std::vector<torch::Tensor>& features);
    ModelOptions opt_;
    calib::MacroParameters macro_;
};
TORCH_MODULE(Model);

}  // namespace rmaat::layers
