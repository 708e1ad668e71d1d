#pragma once
// Reads the macro parameters from a calibration file written by `rmaat calibrate` (docs/design.md
// sections 4 and 7.3). Its own small target (rmaat_calibration_reader) that depends on core/ only, so
// the trainer can read a calibration without linking the simulator or Ceres.
//
//   MacroParameters p = load_macro_parameters("calib.h5", segments);  // or "" for the fall-back
//   double rf = p.retention(t, T);   // 1 <= t <= T <= p.T_max()
#include <string>

#include "core/error.hpp"
#include "core/macro_parameters.hpp"

namespace rmaat::calib {

// Not a calibration file, a damaged one, or one that cannot serve the request (table too short):
// bad input (exit 2).
struct CalibrationError : InputError {
    using InputError::InputError;
};

// Reads /calibration of `path`. CalibrationError when the file holds no calibration, a damaged one,
// or an RF table with fewer than `segments` rows.
MacroParameters read_calibration(const std::string& path, int segments);
// read_calibration(path) when a path is given; otherwise the fall-back (covering at least 64
// segments), with a logged notice.
MacroParameters load_macro_parameters(const std::string& path, int segments);

}  // namespace rmaat::calib
