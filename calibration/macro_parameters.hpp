#pragma once
// What the trainer needs from a calibration, and how it gets it.
//
//   MacroParameters p = load_macro_parameters("calib.h5", segments);  // or "" for the fall-back
//   double rf = p.retention(t, T);   // 1 <= t <= T <= p.T_max()
//   p.scale, p.alpha
//
// Without a calibration file the documented fall-back values of SPEC 4-5 are used: alpha = 0.25,
// scale = 0.1, and RF from a single saturating exponential with tau_L = 19.5 cycles (what the default
// network gives), RF(t, T) = r^(t-1) (1 - r) / (1 - r^T), r = exp(-1 / tau_L).
#include <Eigen/Core>

#include <stdexcept>
#include <string>

namespace rmaat::calib {

// Not a calibration file, or one that cannot serve the request (table too short).
struct CalibrationError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

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

MacroParameters fallback_macro_parameters(int T_max);
// Reads /calibration of `path`. CalibrationError when the file holds no calibration or its RF table
// has fewer than `segments` rows.
MacroParameters read_calibration(const std::string& path, int segments);
// read_calibration(path) when a path is given; otherwise the fall-back, with a logged notice.
MacroParameters load_macro_parameters(const std::string& path, int segments);

}  // namespace rmaat::calib
