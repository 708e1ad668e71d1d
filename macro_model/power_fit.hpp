#pragma once
// Calcium exponent fit (docs/design.md section 4.3): y(f) = c0 + a f^alpha, a > 0 (solved in log space), alpha in
// [1e-3, 10] (so y(0) = c0). Model "power".
//
// The result always has names {"c0", "a", "alpha"}. When c0 is given (Ca_rest measured at f = 0) it is held
// fixed: fixed = {true, false, false}, its row and column of the covariance are 0, its standard error is 0,
// and it does not count as a parameter in the AIC or in the degrees of freedom n - k. Otherwise all three are
// fitted (c0 unbounded).

#include "macro_model/fit.hpp"

#include <optional>
#include <vector>

namespace rmaat::macro {

// f >= 0 (rates, Hz), y the responses. Throws FitError for mismatched lengths, too few points (n must exceed
// the number of free parameters), non-finite values, negative f, or a response that never rises above c0
// (or fewer than 2 distinct positive rates when c0 is free).
FitResult fit_power(const std::vector<double>& f, const std::vector<double>& y, std::optional<double> c0 = std::nullopt,
                    const FitOptions& opt = {});

}  // namespace rmaat::macro
