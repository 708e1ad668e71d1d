#include "core/macro_parameters.hpp"

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace rmaat {

double MacroParameters::retention(int t, int T) const {
    if (t < 1 || t > T || T > T_max())
        throw std::out_of_range(fmt::format("RF({}, {}) needs 1 <= t <= T <= T_max = {}", t, T, T_max()));
    return rf(T - 1, t - 1);
}

MacroParameters fallback_macro_parameters(int T_max) {
    MacroParameters p;
    p.scale = kFallbackScale;
    p.alpha = kFallbackAlpha;
    p.source = "fall-back (no calibration)";
    p.rf = Eigen::MatrixXd::Zero(T_max, T_max);
    const double r = std::exp(-1.0 / kFallbackTauL);
    for (int T = 1; T <= T_max; ++T)
        for (int t = 1; t <= T; ++t) p.rf(T - 1, t - 1) = std::pow(r, t - 1) * (1 - r) / (1 - std::pow(r, T));
    return p;
}

}  // namespace rmaat
