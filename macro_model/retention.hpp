#pragma once
// Retention factors (docs/design.md section 4.1): RF(t, T) = dp_t / sum_{i=1..T} dp_i with dp_t = p(t) - p(t-1).
// Tables are [T_max x T_max]: entry (T-1, t-1) holds RF(t, T) for 1 <= t <= T <= T_max; entries with t > T
// are 0, and every row sums to 1.

#include "macro_model/fit.hpp"

#include <Eigen/Dense>
#include <vector>

namespace rmaat::macro {

// From a fitted LTP curve (smooth; the default). Throws FitError if some row's total increase is <= 0,
// std::invalid_argument if T_max < 1.
Eigen::MatrixXd rf_table_from_curve(const FitResult& ltp_fit, int T_max);
// From the raw increments of p(0..>=T_max). Throws FitError if p is shorter than T_max + 1 (the message
// names both lengths), holds a non-finite value, or some row sum is <= 0.
Eigen::MatrixXd rf_table_from_increments(const std::vector<double>& p, int T_max);
// Closed form under exp1: r^(t-1) (1-r) / (1-r^T), r = exp(-1/tau); 0 for t > T.
// Throws std::invalid_argument for t < 1, T < 1 or tau <= 0.
double rf_single_exponential(int t, int T, double tau);

}  // namespace rmaat::macro
