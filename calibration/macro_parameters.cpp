#include "calibration/macro_parameters.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/h5_store.hpp"
#include "core/log.hpp"

namespace rmaat::calib {

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

MacroParameters read_calibration(const std::string& path, int segments) {
    h5::File f = [&] {
        try {
            return h5::File::open_read(path);
        } catch (const h5::Error& e) {
            throw CalibrationError(e.what());
        }
    }();
    const h5::Group root = f.root();
    if (!root.has("calibration") || !root.open_group("calibration").has_attr("format") ||
        root.open_group("calibration").attr_string("format") != "rmaat-calibration")
        throw CalibrationError(
            fmt::format("{}: not a calibration file (no /calibration group written by "
                        "`rmaat calibrate`)",
                        path));
    const h5::Group g = root.open_group("calibration");
    MacroParameters p;
    try {
        const h5::Array rf = g.read("rf");
        if (rf.dims.size() != 2 || rf.dims[0] != rf.dims[1])
            throw CalibrationError(fmt::format("{}: /calibration/rf is not a square table", path));
        const int n = static_cast<int>(rf.dims[0]);
        if (n < segments)
            throw CalibrationError(
                fmt::format("{}: the RF table covers T <= {} segments, but {} are needed; "
                            "calibrate again with T_max >= {}",
                            path, n, segments, segments));
        p.rf.resize(n, n);
        for (int r = 0; r < n; ++r)
            for (int c = 0; c < n; ++c) p.rf(r, c) = rf.data[r * n + c];
        p.scale = g.read("scale").data.at(0);
        p.alpha = g.read("alpha").data.at(0);
    } catch (const h5::Error& e) {
        throw CalibrationError(fmt::format("{}: damaged calibration: {}", path, e.what()));
    }
    p.calibrated = true;
    p.source = path;
    return p;
}

MacroParameters load_macro_parameters(const std::string& path, int segments) {
    if (!path.empty()) return read_calibration(path, segments);
    log::info("no calibration given: using the fall-back alpha = {}, scale = {}, RF from tau_L = {} cycles",
              kFallbackAlpha, kFallbackScale, kFallbackTauL);
    return fallback_macro_parameters(std::max(segments, 64));
}

}  // namespace rmaat::calib
