#include "calibration/calibration_reader.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/h5_store.hpp"
#include "core/log.hpp"

namespace rmaat::calib {

namespace {

// The largest RF table read: T_max is at most 4096 (calibration.T_max), a 4096 x 4096 table of doubles.
constexpr hsize_t kMaxRfRows = 4096;

// One finite value of /calibration/<name>.
double scalar(const h5::Group& g, const char* name, const std::string& path) {
    const double v = g.read_scalar(name);
    if (!std::isfinite(v)) throw CalibrationError(fmt::format("{}: /calibration/{} = {} is not finite", path, name, v));
    return v;
}

// The square RF table, checked for shape and size before it is allocated, and for values in [0, 1].
Eigen::MatrixXd read_rf(const h5::Group& g, const std::string& path, int segments) {
    const h5::Array rf = g.read("rf", 2, kMaxRfRows * kMaxRfRows);
    if (rf.dims[0] != rf.dims[1] || rf.dims[0] < 1 || rf.dims[0] > kMaxRfRows)
        throw CalibrationError(
            fmt::format("{}: /calibration/rf has shape [{} x {}]: not a square table of 1 to {} rows", path, rf.dims[0],
                        rf.dims[1], kMaxRfRows));
    const int n = static_cast<int>(rf.dims[0]);
    if (n < segments)
        throw CalibrationError(
            fmt::format("{}: the RF table covers T <= {} segments, but {} are needed; "
                        "calibrate again with T_max >= {}",
                        path, n, segments, segments));
    Eigen::MatrixXd table(n, n);
    for (int r = 0; r < n; ++r)
        for (int c = 0; c < n; ++c) {
            const double v = rf.data[static_cast<size_t>(r) * n + c];
            if (!(v >= 0 && v <= 1))
                throw CalibrationError(
                    fmt::format("{}: /calibration/rf[{}][{}] = {} is not a retention factor in [0, 1]", path, r, c, v));
            table(r, c) = v;
        }
    return table;
}

}  // namespace

MacroParameters read_calibration(const std::string& path, int segments) {
    h5::File f = [&] {
        try {
            return h5::File::open_read(path);
        } catch (const h5::Error& e) {
            throw CalibrationError(e.what());
        }
    }();
    MacroParameters p;
    try {
        const h5::Group root = f.root();
        if (!root.has("calibration") || !root.open_group("calibration").has_attr("format") ||
            root.open_group("calibration").attr_string("format") != "rmaat-calibration")
            throw CalibrationError(
                fmt::format("{}: not a calibration file (no /calibration group written by "
                            "`rmaat calibrate`)",
                            path));
        const h5::Group g = root.open_group("calibration");
        p.rf = read_rf(g, path, segments);
        p.scale = scalar(g, "scale", path);
        p.alpha = scalar(g, "alpha", path);
        if (!(p.scale >= 0))
            throw CalibrationError(fmt::format("{}: /calibration/scale = {} must be finite and >= 0", path, p.scale));
        if (!(p.alpha > 0))
            throw CalibrationError(fmt::format("{}: /calibration/alpha = {} must be finite and > 0", path, p.alpha));
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
