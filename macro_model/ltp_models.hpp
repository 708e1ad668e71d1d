#pragma once
// LTP curve models (SPEC section 4.1). p(t) is the mean long-term process at the end of cycle t; the fits use
// y(t) = p(t) - p(0) over t = 0..T (cycles), which every model satisfies at t = 0:
//   exp1: p_sat (1 - exp(-t / tau))
//   exp2: a1 (1 - exp(-t / tau1)) + a2 (1 - exp(-t / tau2)),  tau2 >= 1.01 tau1 (the ordering makes it identifiable)
//   hill: p_sat t^h / (t^h + t_half^h)
// All parameters are positive and solved in log space. FitResult::eval(t) predicts y(t), i.e. p(t) - p(0).

#include "macro_model/fit.hpp"

#include <string>
#include <vector>

namespace rmaat::macro {

// Throws FitError for fewer than 4 points, non-finite values, a curve that does not rise clearly
// (p(T) - p(0) must exceed 3 sqrt(2) times the noise level estimated from second differences), an unknown
// model, or fewer points than the model has parameters + 1 (exp2 needs 5).
FitResult fit_ltp(const std::string& model, const std::vector<double>& p /* p(0..T) */, const FitOptions& opt = {});

struct LtpSelection {
    // One entry per requested model, in order. A model whose fit threw FitError (e.g. too few points for it)
    // is listed with converged == false, empty params and the error in message.
    std::vector<FitResult> fits;
    size_t best = 0;  // lowest AIC among the fits that converged
    const FitResult& best_fit() const { return fits.at(best); }
};
// Throws FitError on bad input (as fit_ltp) and when no model converged.
LtpSelection fit_ltp_models(const std::vector<double>& p,
                            const std::vector<std::string>& models = {"exp1", "exp2", "hill"},
                            const FitOptions& opt = {});

}  // namespace rmaat::macro
