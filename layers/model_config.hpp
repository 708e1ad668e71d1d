#pragma once
// The model factory: a [model] TOML table -> ModelOptions -> Model, given the macro parameters that
// supply alpha, scale and the retention factors (the trainer reads them from the calibration file:
// trainer/build_model.hpp).
//
//   [model]
//   kind = "rmaat"            # rmaat, rmt, rlt, transformer, at, linear
//   d_model = 128, n_heads = 4, n_layers = 2, d_ff = 512, dropout = 0.1, pre_ln = false
//   vocab_size = 256, n_classes = 10, max_len = 1024
//   segment_length = 128, memory_tokens = 16, retention = "paper"   # paper, blend, none
//   pooling = "mean", head = "classify"                             # cls; match
//   qk_dim = 0, astro_term = true, sigmoid_on_H = false, inv_m = 0
//   alpha = 0.25, scale = 0.1   # optional: override the calibration
//   calibration = "calib.h5"    # optional: without it the documented fall-back values are used
#include <optional>
#include <string>

#include "core/config.hpp"
#include "layers/model.hpp"

namespace rmaat::layers {

struct ModelConfig {
    ModelOptions options;
    std::string calibration;             // path, "" for the fall-back
    std::optional<double> alpha, scale;  // overrides
};

ModelConfig read_model_config(const ConfigSection& model, const std::string& config_dir = "");
// Applies the config's alpha and scale overrides to `macro` and builds the model (InputError when
// the RF table is shorter than the segments of max_len).
Model build_model(const ModelConfig& cfg, MacroParameters macro);
// How many segments the RF table must cover for these options.
int calibration_segments(const ModelOptions& o);

// Parameter names as stored under /model/params in run files ("layers.0.attention.W_R", ...).
std::vector<std::string> parameter_names(const Model& model);

}  // namespace rmaat::layers
