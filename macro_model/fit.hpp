#pragma once
// Nonlinear least-squares fits for the macro model (docs/design.md section 4), shared by the LTP, decay and
// power fits.
//
// Every fit runs Ceres (trust-region Levenberg-Marquardt) from a few deterministic, data-derived starts
// and keeps the lowest cost. Positive scales, time constants and rates are solved in log space, with
// bounds; the covariance of the estimate comes from ceres::Covariance in the solver's coordinates, is
// mapped to natural parameters by the delta method (J C J^T) and scaled by sigma^2 = RSS / (n - k).
// Ceres stays out of this header (it is linked privately).
//
// The curve models are one table (kCurveModels: name and formula); the robust losses another (kLosses).
//
// Failure policy:
//   - an unknown model or loss name throws InputError ("unknown ... (known: ...)", from the tables);
//   - bad data (too few points, non-finite values, flat or decreasing LTP curve) throws FitError with a
//     message that says which check failed and the offending values;
//   - a fit whose best start stops without meeting Ceres' convergence tolerances (for example
//     max_iterations reached) is returned with converged == false and Ceres' message;
//   - a fit where no start gives a finite solution throws FitError.
// fit_ltp_models() throws FitError when none of the requested models converged.
// Degenerate fits: the solver converged but the covariance is not estimable (a free parameter has a NaN
// standard error), e.g. exp2 on single-exponential data, where one term is not identifiable; they are
// returned with degenerate == true and status() "degenerate". (On such data exp2 may also stop at
// max_iterations: then converged == false and status() "not converged".)

#include <Eigen/Dense>

#include <stdexcept>
#include <string>
#include <vector>

#include "core/choices.hpp"
#include "core/error.hpp"

namespace rmaat::macro {

// A fit that cannot be done or did not converge: a failed run (exit 1).
struct FitError : RunError {
    using RunError::RunError;
};

// Curve models, in natural parameters (x: t, d or f; the names are those of FitResult::names):
enum class CurveModel { exp1, exp2, hill, decay, power };
inline constexpr Choice<CurveModel> kCurveModelRows[] = {
    {CurveModel::exp1, "exp1", "p_sat * (1 - exp(-t / tau))"},
    {CurveModel::exp2, "exp2", "a1 * (1 - exp(-t / tau1)) + a2 * (1 - exp(-t / tau2)), tau1 < tau2"},
    {CurveModel::hill, "hill", "p_sat * t^h / (t^h + t_half^h)"},
    {CurveModel::decay, "decay", "A * exp(-d / lambda)"},
    {CurveModel::power, "power", "c0 + a * f^alpha"},
};
inline constexpr ChoiceTable kCurveModels{"curve model", kCurveModelRows};
// The row of one model (for tables that list a subset, e.g. the LTP models).
constexpr Choice<CurveModel> curve_model_row(CurveModel m) {
    for (const auto& r : kCurveModelRows)
        if (r.value == m) return r;
    return kCurveModelRows[0];  // unreachable: every model has a row
}

// Robust loss rho(r^2) on each residual r, with a scale s in residual units.
enum class Loss { none, huber, cauchy, soft_l1 };
inline constexpr Choice<Loss> kLossRows[] = {
    {Loss::none, "none", "plain least squares"},
    {Loss::huber, "huber", "Huber: quadratic for |r| < s, linear beyond"},
    {Loss::cauchy, "cauchy", "Cauchy: s^2 log(1 + (r / s)^2)"},
    {Loss::soft_l1, "soft_l1", "soft L1: 2 s^2 (sqrt(1 + (r / s)^2) - 1)"},
};
inline constexpr ChoiceTable kLosses{"robust loss", kLossRows};

struct FitOptions {
    // Robust loss on each residual: a name of kLosses.
    std::string loss = "none";
    // Loss scale in residual units. 0 = automatic: c * 1.4826 * MAD of the residuals of the plain fit
    // (c = 1.345 huber, 2.385 cauchy, 1.345 soft_l1: 95% efficiency at Gaussian noise), re-estimated
    // once from the residuals of the first robust fit.
    double loss_scale = 0.0;
    int max_iterations = 500;  // per start
};

struct FitResult {
    std::string model;               // a name of kCurveModels
    std::string formula;             // its formula, e.g. "p_sat * (1 - exp(-t / tau))"
    std::vector<std::string> names;  // parameter names, e.g. {"p_sat", "tau"}
    Eigen::VectorXd params;          // natural scale
    Eigen::MatrixXd covariance;      // natural scale (k x k); NaN where not estimable
    Eigen::VectorXd std_errors;      // sqrt(diag(covariance)); NaN where not estimable, 0 for fixed parameters
    std::vector<bool> fixed;         // parameters held fixed (power with given c0): zero (co)variance
    long n = 0;                      // data points
    // rss, rmse = sqrt(rss / n), r2 = 1 - rss / tss and aic = n ln(rss / n) + 2 k (k = free parameters) are
    // always computed from the plain residuals, also for robust fits. rss is floored at n (1e-15 max|y|)^2
    // in the AIC so that exact data gives finite values and ties go to the smaller model.
    double rss = 0, rmse = 0, r2 = 0, aic = 0;
    // Residual variance behind the covariance: RSS / (n - k); for robust fits sum w r^2 / (n - k) with the IRLS
    // weights w = rho'(r^2) at the solution, which also weight the Jacobian there.
    double sigma2 = 0;
    double loss_scale = 0;  // scale of the robust loss actually used (0 for loss "none")
    bool converged = false;
    // Converged, but the covariance is not estimable: some free parameter's standard error is NaN.
    bool degenerate = false;
    int iterations = 0;   // Ceres iterations of the start that was kept (as in its message)
    std::string message;  // Ceres' termination message

    // "converged", "degenerate", "not converged" (Ceres stopped short of its tolerances) or "failed" (no
    // parameters: the fit could not be done; message says why).
    const char* status() const;
    bool usable() const { return converged && !degenerate; }
    int free_params() const;                          // k
    double eval(double x) const;                      // model prediction at x
    double param(const std::string& name) const;      // throws std::out_of_range naming the parameter
    double std_error(const std::string& name) const;  // same, for the standard error
    size_t index(const std::string& name) const;      // position of a parameter in names
};

// Prediction of a named model at x for natural parameters (the formula behind FitResult::eval).
double model_value(const std::string& model, const Eigen::VectorXd& params, double x);
// Parameter names of a model, in order.
std::vector<std::string> model_names(const std::string& model);
// Units of a model's parameters, in order, for data x in x_unit and y in y_unit: amplitudes take y_unit,
// time constants and lengths x_unit, exponents "1", and the power-law coefficient a "y_unit x_unit^-alpha".
std::vector<std::string> model_units(const std::string& model, const std::string& x_unit, const std::string& y_unit);

namespace detail {
// A curve fit as the front ends (ltp_models, decay_fit, power_fit) set it up. Starts and bounds are in
// natural parameters; a non-finite bound means unbounded. Fixed parameters keep their start value.
struct CurveProblem {
    CurveModel model;
    std::vector<double> x, y;
    std::vector<Eigen::VectorXd> starts;
    Eigen::VectorXd lower, upper;
    std::vector<bool> fixed;  // empty = all free
};
FitResult fit_curve(const CurveProblem& problem, const FitOptions& opt);

// 1.4826 * median absolute deviation from the median (a robust standard deviation); 0 for empty input.
double robust_sigma(std::vector<double> r);
}  // namespace detail

}  // namespace rmaat::macro
