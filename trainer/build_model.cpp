#include "trainer/build_model.hpp"

#include "calibration/calibration_reader.hpp"

namespace rmaat::trainer {

layers::Model build_model(const layers::ModelConfig& cfg) {
    return layers::build_model(
        cfg, calib::load_macro_parameters(cfg.calibration, layers::calibration_segments(cfg.options)));
}

}  // namespace rmaat::trainer
