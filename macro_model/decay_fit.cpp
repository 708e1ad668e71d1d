#include "macro_model/decay_fit.hpp"

#include <algorithm>
#include <cmath>
#include <string>

namespace rmaat::macro {

FitResult fit_decay(const std::vector<double>& d, const std::vector<double>& y, const FitOptions& opt) {
    if (d.size() != y.size())
        throw FitError("decay fit: distances and responses differ in length (" + std::to_string(d.size()) + " vs " +
                       std::to_string(y.size()) + ")");
    if (d.size() < 3) throw FitError("decay fit: needs at least 3 points, got " + std::to_string(d.size()));
    for (size_t i = 0; i < d.size(); ++i) {
        if (!std::isfinite(d[i]) || !std::isfinite(y[i]))
            throw FitError("decay fit: non-finite data at index " + std::to_string(i));
        if (d[i] < 0) throw FitError("decay fit: negative distance at index " + std::to_string(i));
    }
    const auto [dmin, dmax] = std::minmax_element(d.begin(), d.end());
    const double range = *dmax - *dmin;
    if (!(range > 0)) throw FitError("decay fit: needs at least 2 distinct distances");

    // Log-linear regression over the positive responses gives the first start.
    double sx = 0, sy = 0, sxx = 0, sxy = 0, m = 0, ymax = 0, y_near = 0;
    for (size_t i = 0; i < d.size(); ++i) {
        if (d[i] == *dmin) y_near = std::max(y_near, y[i]);
        if (!(y[i] > 0)) continue;
        double ly = std::log(y[i]);
        sx += d[i], sy += ly, sxx += d[i] * d[i], sxy += d[i] * ly, m += 1;
        ymax = std::max(ymax, y[i]);
    }
    if (m < 2) throw FitError("decay fit: needs at least 2 positive responses, got " + std::to_string(int(m)));
    double var = sxx - sx * sx / m;
    double slope = var > 0 ? (sxy - sx * sy / m) / var : 0;
    double lam0 = slope < 0 ? -1 / slope : range;
    double A0 = var > 0 ? std::exp((sy - slope * sx) / m) : ymax;
    if (!(y_near > 0)) y_near = ymax;

    detail::CurveProblem cp;
    cp.model = CurveModel::decay;
    cp.x = d;
    cp.y = y;
    cp.lower = Eigen::Vector2d(1e-6 * ymax, 1e-4 * range);
    cp.upper = Eigen::Vector2d(1e6 * ymax, 1e4 * range);
    cp.starts = {Eigen::Vector2d(A0, lam0), Eigen::Vector2d(y_near * std::exp(*dmin * 3 / range), range / 3),
                 Eigen::Vector2d(ymax, range)};
    return detail::fit_curve(cp, opt);
}

}  // namespace rmaat::macro
