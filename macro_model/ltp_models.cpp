#include "macro_model/ltp_models.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace rmaat::macro {
namespace {

std::string num(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

// Checks the curve and returns y(t) = p(t) - p(0).
std::vector<double> ltp_increase(const std::vector<double>& p) {
    if (p.size() < 4) throw FitError("LTP curve needs at least 4 points p(0..T), got " + std::to_string(p.size()));
    for (size_t t = 0; t < p.size(); ++t)
        if (!std::isfinite(p[t])) throw FitError("LTP curve has a non-finite value at t = " + std::to_string(t));
    std::vector<double> y(p.size());
    for (size_t t = 0; t < p.size(); ++t) y[t] = p[t] - p[0];
    // Noise level from second differences (var = 6 sigma^2 for white noise); a smooth curve contributes little
    // to their median, so this is a slight overestimate at worst.
    std::vector<double> d2;
    for (size_t t = 1; t + 1 < y.size(); ++t) d2.push_back(y[t + 1] - 2 * y[t] + y[t - 1]);
    double noise = detail::robust_sigma(d2) / std::sqrt(6.0);
    double rise = y.back();
    double scale = std::max(std::abs(p.front()), std::abs(p.back()));
    if (!(rise > 3 * std::sqrt(2.0) * noise) || !(rise > 1e-12 * scale))
        throw FitError("LTP curve is flat or decreasing: p(T) - p(0) = " + num(rise) +
                       " with T = " + std::to_string(p.size() - 1) + ", noise level ~" + num(noise) +
                       " (from second differences); a fit needs a clear rise (> 3 sqrt(2) x noise)");
    return y;
}

// First t where y reaches the fraction f of y(T).
double time_to(const std::vector<double>& y, double f) {
    for (size_t t = 0; t < y.size(); ++t)
        if (y[t] >= f * y.back()) return std::max(static_cast<double>(t), 0.5);
    return static_cast<double>(y.size() - 1);
}

detail::CurveProblem ltp_problem(CurveModel model, const std::vector<double>& y) {
    detail::CurveProblem cp;
    cp.model = model;
    cp.y = y;
    for (size_t t = 0; t < y.size(); ++t) cp.x.push_back(static_cast<double>(t));
    const double T = static_cast<double>(y.size() - 1), yT = y.back();
    const double t63 = time_to(y, 1 - std::exp(-1.0)), t50 = time_to(y, 0.5);
    // Wide bounds: they only keep the solver away from overflow and from meaningless corners.
    const double a_lo = 1e-8 * yT, a_hi = 1e6 * yT, tau_lo = 1e-2, tau_hi = 1e4 * T;
    auto amp = [&](double tau) { return yT / -std::expm1(-T / tau); };  // passes through y(T)
    switch (model) {
        case CurveModel::exp1:
            cp.lower = Eigen::Vector2d(a_lo, tau_lo);
            cp.upper = Eigen::Vector2d(a_hi, tau_hi);
            for (double tau : {t63, T / 5, T}) cp.starts.push_back(Eigen::Vector2d(amp(tau), tau));
            break;
        case CurveModel::exp2: {
            cp.lower = Eigen::Vector4d(a_lo, tau_lo, a_lo, tau_lo);
            cp.upper = Eigen::Vector4d(a_hi, tau_hi, a_hi, tau_hi);
            const double pairs[][2] = {{t63 / 4, 2 * t63}, {T / 20, T / 2}, {1.0, T}};
            for (const auto& pr : pairs) {
                double tau1 = std::max(pr[0], 0.1), tau2 = std::max(pr[1], 1.5 * tau1);
                cp.starts.push_back(Eigen::Vector4d(amp(tau1) / 2, tau1, amp(tau2) / 2, tau2));
            }
            break;
        }
        case CurveModel::hill: {
            cp.lower = Eigen::Vector3d(a_lo, 0.05, tau_lo);
            cp.upper = Eigen::Vector3d(a_hi, 20.0, tau_hi);
            const double sh[][2] = {{t50, 1.0}, {t50, 2.0}, {T / 4, 1.5}, {T, 1.0}};
            for (const auto& s : sh)
                cp.starts.push_back(Eigen::Vector3d(yT * (1 + std::pow(s[0] / T, s[1])), s[1], s[0]));
            break;
        }
        default: throw std::logic_error("ltp_problem: not an LTP model");  // kLtpModels.parse() let it through
    }
    return cp;
}

}  // namespace

FitResult fit_ltp(const std::string& model, const std::vector<double>& p, const FitOptions& opt) {
    auto y = ltp_increase(p);
    return detail::fit_curve(ltp_problem(kLtpModels.parse(model), y), opt);
}

LtpSelection fit_ltp_models(const std::vector<double>& p, const std::vector<std::string>& models,
                            const FitOptions& opt) {
    if (models.empty()) throw FitError("fit_ltp_models: no models requested");
    for (const auto& m : models) kLtpModels.parse(m);  // an unknown name fails before any work
    ltp_increase(p);                                   // bad input fails here, once, for every model
    LtpSelection sel;
    std::string why;
    for (const auto& m : models) {
        FitResult r;
        try {
            r = fit_ltp(m, p, opt);
        } catch (const FitError& e) {
            r.model = m;
            r.converged = false;
            r.message = std::string("fit failed: ") + e.what();
            r.aic = std::numeric_limits<double>::quiet_NaN();
        }
        if (!r.converged) why += (why.empty() ? "" : "; ") + m + ": " + r.message;
        sel.fits.push_back(std::move(r));
    }
    // Usable fits first; degenerate ones only when nothing else converged.
    for (bool degenerate_ok : {false, true}) {
        bool any = false;
        for (size_t i = 0; i < sel.fits.size(); ++i) {
            const FitResult& f = sel.fits[i];
            const bool eligible = f.converged && (degenerate_ok || !f.degenerate);
            if (eligible && (!any || f.aic < sel.fits[sel.best].aic)) sel.best = i, any = true;
        }
        if (any) return sel;
    }
    throw FitError("no LTP model converged (" + why + ")");
}

}  // namespace rmaat::macro
