#pragma once
// Position-decay fit (docs/design.md section 4.2): STP response against distance to the focal synapse,
// y(d) = A exp(-d / lambda), A and lambda positive and solved in log space. Model "decay", names {"A", "lambda"}.

#include "macro_model/fit.hpp"

#include <vector>

namespace rmaat::macro {

// d >= 0 (distances), y the responses (expected > 0; noisy non-positive values are fitted but do not enter the
// log-linear start). Throws FitError for mismatched lengths, fewer than 3 points, non-finite values, negative
// distances, fewer than 2 distinct distances or fewer than 2 positive responses.
FitResult fit_decay(const std::vector<double>& d, const std::vector<double>& y, const FitOptions& opt = {});

}  // namespace rmaat::macro
