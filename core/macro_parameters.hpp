#pragma once
// The three numbers the transformer takes from the biology (docs/design.md section 4), as a plain
// value type so that layers/ and trainer/ need neither the simulator nor Ceres:
//   rf     retention factors RF(t, T), a [T_max x T_max] table; row T-1 holds RF(1..T, T) (sums to 1),
//          zeros beyond t = T
//   scale  position-decay scale per token (1 / tokens): P_rel[i][j] = exp(-|i - j| scale)
//   alpha  calcium exponent of the attention normaliser g = (sum_n phi(k_n))^alpha (dimensionless)
//
// Without a calibration the documented fall-back values are used: alpha = 0.25, scale = 0.1, and RF
// from a single saturating exponential with tau_L = 19.5 cycles (what the default network gives):
// RF(t, T) = r^(t-1) (1 - r) / (1 - r^T), r = exp(-1 / tau_L).
// Reading a calibration file: calibration/calibration_reader.hpp.
#include <Eigen/Core>

#include <string>

namespace rmaat {

struct MacroParameters {
    Eigen::MatrixXd rf;   // [T_max x T_max]; row T-1 holds RF(1..T, T)
    double scale = 0.1;   // position-decay scale per token
    double alpha = 0.25;  // calcium exponent
    bool calibrated = false;
    std::string source;  // the file, or "fall-back (no calibration)"

    int T_max() const { return static_cast<int>(rf.rows()); }
    // RF(t, T); std::out_of_range unless 1 <= t <= T <= T_max.
    double retention(int t, int T) const;
};

inline constexpr double kFallbackAlpha = 0.25;
inline constexpr double kFallbackScale = 0.1;
inline constexpr double kFallbackTauL = 19.5;  // cycles

// The fall-back parameters with an RF table covering T <= T_max segments.
MacroParameters fallback_macro_parameters(int T_max);

}  // namespace rmaat
