#include "macro_model/retention.hpp"

#include <cmath>
#include <string>

namespace rmaat::macro {
namespace {

// Rows from increments dp_1..dp_Tmax (dp[0] unused).
Eigen::MatrixXd rf_table(const std::vector<double>& p, int T_max, const std::string& source) {
    Eigen::MatrixXd rf = Eigen::MatrixXd::Zero(T_max, T_max);
    double sum = 0;
    for (int T = 1; T <= T_max; ++T) {
        sum += p[T] - p[T - 1];
        if (!(sum > 0))
            throw FitError("retention factors from " + source + ": total increase p(" + std::to_string(T) +
                           ") - p(0) = " + std::to_string(sum) + " is not positive, so row T = " + std::to_string(T) +
                           " cannot be normalised");
        for (int t = 1; t <= T; ++t) rf(T - 1, t - 1) = (p[t] - p[t - 1]) / sum;
    }
    return rf;
}

void check_tmax(int T_max) {
    if (T_max < 1) throw std::invalid_argument("retention table needs T_max >= 1, got " + std::to_string(T_max));
}

}  // namespace

Eigen::MatrixXd rf_table_from_curve(const FitResult& ltp_fit, int T_max) {
    check_tmax(T_max);
    std::vector<double> p(T_max + 1);
    for (int t = 0; t <= T_max; ++t) p[t] = ltp_fit.eval(t);
    return rf_table(p, T_max, "the fitted " + ltp_fit.model + " curve");
}

Eigen::MatrixXd rf_table_from_increments(const std::vector<double>& p, int T_max) {
    check_tmax(T_max);
    if (p.size() < static_cast<size_t>(T_max) + 1)
        throw FitError("retention factors from increments need p(0..T_max), i.e. " + std::to_string(T_max + 1) +
                       " values for T_max = " + std::to_string(T_max) + ", got " + std::to_string(p.size()));
    for (int t = 0; t <= T_max; ++t)
        if (!std::isfinite(p[t])) throw FitError("LTP curve has a non-finite value at t = " + std::to_string(t));
    return rf_table(p, T_max, "increments");
}

double rf_single_exponential(int t, int T, double tau) {
    if (t < 1 || T < 1 || !(tau > 0))
        throw std::invalid_argument(
            "rf_single_exponential needs t >= 1, T >= 1, tau > 0 (got t = " + std::to_string(t) +
            ", T = " + std::to_string(T) + ", tau = " + std::to_string(tau) + ")");
    if (t > T) return 0.0;
    // expm1 keeps 1 - r and 1 - r^T accurate for large tau.
    return std::exp(-(t - 1) / tau) * -std::expm1(-1.0 / tau) / -std::expm1(-T / tau);
}

}  // namespace rmaat::macro
