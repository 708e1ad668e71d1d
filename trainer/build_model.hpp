#pragma once
// Where the two columns meet: a [model] config and its calibration file (or the documented
// fall-back) -> a model (docs/design.md sections 4 and 5).
#include "layers/model_config.hpp"

namespace rmaat::trainer {

// Loads the calibration named in the config (calib::CalibrationError, exit 2, when it is not one or
// its RF table is shorter than the segments of max_len), applies the overrides, builds the model.
layers::Model build_model(const layers::ModelConfig& cfg);

}  // namespace rmaat::trainer
