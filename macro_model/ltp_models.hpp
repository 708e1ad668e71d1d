#pragma once
// LTP curve models (docs/design.md section 4.1). p(t) is the mean long-term process at the end of cycle t; the
// fits use y(t) = p(t) - p(0) over t = 0..T (cycles), which every model satisfies at t = 0:
//   exp1: p_sat (1 - exp(-t / tau))
//   exp2: a1 (1 - exp(-t / tau1)) + a2 (1 - exp(-t / tau2)),  tau2 >= 1.01 tau1 (the ordering makes it identifiable)
//   hill: p_sat t^h / (t^h + t_half^h)
// All parameters are positive and solved in log space; p_sat, a1, a2 in the units of p (1), tau, tau1, tau2 and
// t_half in cycles, h dimensionless. FitResult::eval(t) predicts y(t), i.e. p(t) - p(0).
// The models are the rows of kLtpModels (a subset of kCurveModels): adding one is a row there, its solver entry
// in fit.cpp and its starts and bounds in ltp_problem().

#include "macro_model/fit.hpp"

#include <string>
#include <vector>

namespace rmaat::macro {

inline constexpr Choice<CurveModel> kLtpModelRows[] = {
    curve_model_row(CurveModel::exp1),
    curve_model_row(CurveModel::exp2),
    curve_model_row(CurveModel::hill),
};
inline constexpr ChoiceTable kLtpModels{"LTP model", kLtpModelRows};

// Throws FitError for fewer than 4 points, non-finite values, a curve that does not rise clearly
// (p(T) - p(0) must exceed 3 sqrt(2) times the noise level estimated from second differences), or fewer
// points than the model has parameters + 1 (exp2 needs 5); InputError for a model not in kLtpModels.
FitResult fit_ltp(const std::string& model, const std::vector<double>& p /* p(0..T) */, const FitOptions& opt = {});

struct LtpSelection {
    // One entry per requested model, in order. A model whose fit threw FitError (e.g. too few points for it)
    // is listed with converged == false, empty params and the error in message (status() "failed").
    std::vector<FitResult> fits;
    // Lowest AIC among the usable fits (converged, not degenerate); when every fit that converged is
    // degenerate, the lowest AIC among those (its curve is still a least-squares fit; its parameters are not
    // identified, which the caller reports).
    size_t best = 0;
    const FitResult& best_fit() const { return fits.at(best); }
};
// Throws InputError for an unknown model name (before any fit), FitError on bad data (as fit_ltp) and when
// no model converged.
LtpSelection fit_ltp_models(const std::vector<double>& p, const std::vector<std::string>& models = kLtpModels.names(),
                            const FitOptions& opt = {});

}  // namespace rmaat::macro
