#include "macro_model/power_fit.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace rmaat::macro {
namespace {

// Starts for a and alpha at a given c0: log-log regression of y - c0 on f, plus alpha = 0.5 and 1.
void add_starts(detail::CurveProblem& cp, double c0) {
    double sx = 0, sy = 0, sxx = 0, sxy = 0, m = 0;
    for (size_t i = 0; i < cp.x.size(); ++i) {
        double z = cp.y[i] - c0;
        if (!(cp.x[i] > 0) || !(z > 0)) continue;
        double lx = std::log(cp.x[i]), lz = std::log(z);
        sx += lx, sy += lz, sxx += lx * lx, sxy += lx * lz, m += 1;
    }
    if (m < 1) return;
    double var = sxx - sx * sx / m;
    double alpha0 = var > 0 ? std::clamp((sxy - sx * sy / m) / var, 0.05, 3.0) : 0.5;
    for (double alpha : {alpha0, 0.5, 1.0}) {
        double la = (sy - alpha * sx) / m;  // best log a for this alpha
        cp.starts.push_back(Eigen::Vector3d(c0, std::exp(la), alpha));
    }
}

}  // namespace

FitResult fit_power(const std::vector<double>& f, const std::vector<double>& y, std::optional<double> c0,
                    const FitOptions& opt) {
    if (f.size() != y.size())
        throw FitError("power fit: rates and responses differ in length (" + std::to_string(f.size()) + " vs " +
                       std::to_string(y.size()) + ")");
    const size_t need = c0 ? 3 : 4;
    if (f.size() < need)
        throw FitError("power fit: needs at least " + std::to_string(need) + " points with c0 " +
                       (c0 ? "fixed" : "free") + ", got " + std::to_string(f.size()));
    for (size_t i = 0; i < f.size(); ++i) {
        if (!std::isfinite(f[i]) || !std::isfinite(y[i]))
            throw FitError("power fit: non-finite data at index " + std::to_string(i));
        if (f[i] < 0) throw FitError("power fit: negative rate at index " + std::to_string(i));
    }
    if (c0 && !std::isfinite(*c0)) throw FitError("power fit: c0 is not finite");

    detail::CurveProblem cp;
    cp.model = CurveModel::power;
    cp.x = f;
    cp.y = y;
    const auto [ylo, yhi] = std::minmax_element(y.begin(), y.end());
    const double inf = std::numeric_limits<double>::infinity();
    if (c0) {
        cp.fixed = {true, false, false};
        add_starts(cp, *c0);
        if (cp.starts.empty()) throw FitError("power fit: the response never rises above c0 = " + std::to_string(*c0));
    } else {
        // c0 candidates: the measured y at f = 0 if any, and a level below every response.
        double range = *yhi - *ylo, at0 = 0, n0 = 0;
        for (size_t i = 0; i < f.size(); ++i)
            if (f[i] == 0) at0 += y[i], n0 += 1;
        for (double c : {n0 > 0 ? at0 / n0 : *ylo - 0.05 * range, *ylo - 0.5 * range}) add_starts(cp, c);
        if (cp.starts.empty()) throw FitError("power fit: needs responses at 2 or more positive rates");
    }
    const double s = std::max(std::abs(*yhi), std::abs(*ylo)) + (*yhi - *ylo);
    cp.lower = Eigen::Vector3d(-inf, 1e-12 * s, 1e-3);
    cp.upper = Eigen::Vector3d(inf, 1e12 * s, 10.0);
    return detail::fit_curve(cp, opt);
}

}  // namespace rmaat::macro
