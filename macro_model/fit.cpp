#include "macro_model/fit.hpp"

#include <ceres/ceres.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

namespace rmaat::macro {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int kMaxParams = 4;
// exp2 is solved with d = ln(tau2 / tau1) >= ln(kMinTauRatio): the ordering makes the two terms distinguishable.
constexpr double kMinTauRatio = 1.01;

using Model = CurveModel;
// How a natural parameter maps to the solver's coordinate.
enum class Coord { lin, log, ratio };  // ratio: ln(p[i] / p[1]) (exp2's tau2)
// What a parameter's unit is made of (model_units): y's unit, x's unit, none, or y / x^alpha.
enum class Dim { y, x, one, y_per_x_alpha };

// The solver's view of each model of kCurveModels (its name and formula come from that table).
struct ModelInfo {
    Model id;
    std::vector<std::string> names;
    std::vector<Coord> coords;
    std::vector<Dim> dims;
};

const std::vector<ModelInfo>& model_table() {
    using C = Coord;
    static const std::vector<ModelInfo> table = {
        {Model::exp1, {"p_sat", "tau"}, {C::log, C::log}, {Dim::y, Dim::x}},
        {Model::exp2,
         {"a1", "tau1", "a2", "tau2"},
         {C::log, C::log, C::log, C::ratio},
         {Dim::y, Dim::x, Dim::y, Dim::x}},
        {Model::hill, {"p_sat", "h", "t_half"}, {C::log, C::log, C::log}, {Dim::y, Dim::one, Dim::x}},
        {Model::decay, {"A", "lambda"}, {C::log, C::log}, {Dim::y, Dim::x}},
        {Model::power, {"c0", "a", "alpha"}, {C::lin, C::log, C::lin}, {Dim::y, Dim::y_per_x_alpha, Dim::one}},
    };
    return table;
}

const ModelInfo& info(Model id) {
    for (const auto& m : model_table())
        if (m.id == id) return m;
    throw std::logic_error("macro fit: curve model without a solver table entry");
}

// InputError "unknown curve model ... (known: ...)" for a name not in kCurveModels.
const ModelInfo& info(const std::string& name) {
    return info(kCurveModels.parse(name));
}

const char* formula(Model id) {
    return curve_model_row(id).help;
}

// Natural parameters p from solver coordinates th (templated for autodiff and for the delta-method Jacobian).
template <typename T>
void to_natural(const ModelInfo& mi, const T* th, T* p) {
    using std::exp;
    for (size_t i = 0; i < mi.coords.size(); ++i) {
        switch (mi.coords[i]) {
            case Coord::lin: p[i] = th[i]; break;
            case Coord::log: p[i] = exp(th[i]); break;
            case Coord::ratio: p[i] = exp(th[1] + th[i]); break;
        }
    }
}

template <typename T>
T value(Model m, const T* p, double x) {
    using std::exp;
    using std::expm1;
    using std::log;
    switch (m) {
        case Model::exp1: return -p[0] * expm1(-x / p[1]);
        case Model::exp2: return -p[0] * expm1(-x / p[1]) - p[2] * expm1(-x / p[3]);
        case Model::hill:
            // t^h / (t^h + t_half^h) = 1 / (1 + (t_half / t)^h): no overflow, and no 0^h for autodiff at t = 0.
            if (x <= 0) return T(0);
            return p[0] / (T(1) + exp(p[1] * (log(p[2]) - std::log(x))));
        case Model::decay: return p[0] * exp(-x / p[1]);
        case Model::power:
            // alpha > 0 is a bound, so f = 0 gives c0 exactly (and avoids log(0) in the derivative).
            if (x <= 0) return p[0];
            return p[0] + p[1] * exp(p[2] * std::log(x));
    }
    return T(0);
}

struct Residual {
    const ModelInfo* mi;
    double x, y, w;  // w: square root of the residual's weight (1 for plain least squares)
    template <typename T>
    bool operator()(const T* th, T* r) const {
        T p[kMaxParams];
        to_natural(*mi, th, p);
        r[0] = T(w) * (T(y) - value(mi->id, p, x));
        return true;
    }
};

ceres::CostFunction* make_cost(const Residual& r) {
    switch (r.mi->names.size()) {
        case 2: return new ceres::AutoDiffCostFunction<Residual, 1, 2>(new Residual(r));
        case 3: return new ceres::AutoDiffCostFunction<Residual, 1, 3>(new Residual(r));
        case 4: return new ceres::AutoDiffCostFunction<Residual, 1, 4>(new Residual(r));
    }
    throw std::logic_error("macro fit: unsupported parameter count");
}

// The problem in solver coordinates.
struct Setup {
    const ModelInfo* mi;
    int k;
    const std::vector<double>& x;
    const std::vector<double>& y;
    std::vector<double> lo, hi;  // solver-coordinate bounds (infinite = none)
    std::vector<int> fixed;      // indices held constant
};

struct Run {
    std::vector<double> th;
    double cost = kInf;  // infinite: unusable
    bool converged = false;
    int iterations = 0;
    std::string message = "not run";
};

void add_residuals(ceres::Problem& pb, const Setup& s, double* th, ceres::LossFunction* loss,
                   const std::vector<double>* w) {
    for (size_t i = 0; i < s.x.size(); ++i)
        pb.AddResidualBlock(make_cost(Residual{s.mi, s.x[i], s.y[i], w ? (*w)[i] : 1.0}), loss, th);
    if (!s.fixed.empty()) pb.SetManifold(th, new ceres::SubsetManifold(s.k, s.fixed));
}

bool is_fixed(const Setup& s, int i) {
    return std::find(s.fixed.begin(), s.fixed.end(), i) != s.fixed.end();
}

Run solve(const Setup& s, std::vector<double> th, ceres::LossFunction* loss, int max_iterations) {
    // Ceres needs a feasible start; keep it a little inside the box so that no bound is active at once.
    for (int i = 0; i < s.k; ++i) {
        if (is_fixed(s, i)) continue;
        double lo = s.lo[i], hi = s.hi[i];
        double pad = (std::isfinite(lo) && std::isfinite(hi)) ? 1e-6 * (hi - lo) : 1e-6;
        if (std::isfinite(lo)) th[i] = std::max(th[i], lo + pad);
        if (std::isfinite(hi)) th[i] = std::min(th[i], hi - pad);
    }
    ceres::Problem::Options po;
    po.loss_function_ownership = ceres::DO_NOT_TAKE_OWNERSHIP;
    ceres::Problem pb(po);
    add_residuals(pb, s, th.data(), loss, nullptr);
    for (int i = 0; i < s.k; ++i) {
        if (is_fixed(s, i)) continue;
        if (std::isfinite(s.lo[i])) pb.SetParameterLowerBound(th.data(), i, s.lo[i]);
        if (std::isfinite(s.hi[i])) pb.SetParameterUpperBound(th.data(), i, s.hi[i]);
    }
    ceres::Solver::Options so;
    so.linear_solver_type = ceres::DENSE_QR;
    so.max_num_iterations = max_iterations;
    // Tighter than Ceres' defaults (1e-6): the covariance needs the minimum itself, not a nearby point.
    so.function_tolerance = 1e-10;
    so.parameter_tolerance = 1e-10;
    so.gradient_tolerance = 1e-14;
    so.logging_type = ceres::SILENT;
    so.num_threads = 1;
    ceres::Solver::Summary sum;
    ceres::Solve(so, &pb, &sum);

    Run r;
    r.th = th;
    r.converged = sum.termination_type == ceres::CONVERGENCE;
    r.iterations = std::max(0, static_cast<int>(sum.iterations.size()) - 1);  // iteration 0 is the start
    r.message = sum.message;
    bool finite = std::all_of(th.begin(), th.end(), [](double v) { return std::isfinite(v); });
    if (sum.termination_type != ceres::FAILURE && finite && std::isfinite(sum.final_cost)) r.cost = sum.final_cost;
    return r;
}

// Keeps the start with the lowest final cost (first one on ties: deterministic).
Run multistart(const Setup& s, const std::vector<std::vector<double>>& starts, ceres::LossFunction* loss,
               int max_iterations) {
    Run best;
    for (size_t i = 0; i < starts.size(); ++i) {
        Run r = solve(s, starts[i], loss, max_iterations);
        if (i == 0 || r.cost < best.cost) best = r;  // the first run is kept even if it failed, for its message
    }
    return best;
}

std::vector<double> natural(const Setup& s, const std::vector<double>& th) {
    std::vector<double> p(s.k);
    to_natural(*s.mi, th.data(), p.data());
    return p;
}

std::vector<double> residuals(const Setup& s, const std::vector<double>& th) {
    auto p = natural(s, th);
    std::vector<double> r(s.x.size());
    for (size_t i = 0; i < r.size(); ++i) r[i] = s.y[i] - value(s.mi->id, p.data(), s.x[i]);
    return r;
}

// Null for Loss::none (plain least squares).
std::unique_ptr<ceres::LossFunction> make_loss(Loss loss, double scale) {
    switch (loss) {
        case Loss::none: return nullptr;
        case Loss::huber: return std::make_unique<ceres::HuberLoss>(scale);
        case Loss::cauchy: return std::make_unique<ceres::CauchyLoss>(scale);
        case Loss::soft_l1: return std::make_unique<ceres::SoftLOneLoss>(scale);
    }
    return nullptr;
}

// Automatic loss scale: tuning constant for 95% Gaussian efficiency times a robust residual sigma.
double auto_scale(Loss loss, const std::vector<double>& r, double y_scale) {
    double c = loss == Loss::cauchy ? 2.385 : 1.345;
    double floor = y_scale > 0 ? 1e-12 * y_scale : 1e-300;  // exact data: MAD 0, Ceres needs a > 0
    return c * std::max(detail::robust_sigma(r), floor);
}

// Natural-scale covariance: delta method on the solver-coordinate covariance of the (weighted) problem.
Eigen::MatrixXd covariance(const Setup& s, std::vector<double> th, const std::vector<double>& w, double sigma2) {
    Eigen::MatrixXd nan = Eigen::MatrixXd::Constant(s.k, s.k, kNaN);
    if (!std::isfinite(sigma2)) return nan;
    ceres::Problem pb;
    add_residuals(pb, s, th.data(), nullptr, &w);
    // Ceres logs an error line for a rank-deficient problem (e.g. exp2 on single-exponential data); test the
    // conditioning first with its own criterion, so that such fits get NaN quietly.
    ceres::CRSMatrix jac;
    pb.Evaluate(ceres::Problem::EvaluateOptions(), nullptr, nullptr, nullptr, &jac);
    Eigen::MatrixXd Jd = Eigen::MatrixXd::Zero(jac.num_rows, jac.num_cols);
    for (int r = 0; r < jac.num_rows; ++r)
        for (int i = jac.rows[r]; i < jac.rows[r + 1]; ++i) Jd(r, jac.cols[i]) = jac.values[i];
    ceres::Covariance::Options co;
    co.algorithm_type = ceres::DENSE_SVD;
    Eigen::VectorXd sv = Eigen::JacobiSVD<Eigen::MatrixXd>(Jd).singularValues();
    if (sv.size() == 0 || !(sv(sv.size() - 1) > std::sqrt(co.min_reciprocal_condition_number) * sv(0))) return nan;
    ceres::Covariance cov(co);
    std::vector<std::pair<const double*, const double*>> blocks = {{th.data(), th.data()}};
    if (!cov.Compute(blocks, &pb)) return nan;
    Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> c(s.k, s.k);
    if (!cov.GetCovarianceBlock(th.data(), th.data(), c.data())) return nan;

    using Jet = ceres::Jet<double, kMaxParams>;
    Jet t[kMaxParams], p[kMaxParams];
    for (int i = 0; i < s.k; ++i) t[i] = Jet(th[i], i);
    to_natural(*s.mi, t, p);
    Eigen::MatrixXd J(s.k, s.k);
    for (int i = 0; i < s.k; ++i)
        for (int j = 0; j < s.k; ++j) J(i, j) = p[i].v[j];
    return sigma2 * J * c * J.transpose();
}

}  // namespace

const char* FitResult::status() const {
    if (params.size() == 0) return "failed";
    if (!converged) return "not converged";
    return degenerate ? "degenerate" : "converged";
}

int FitResult::free_params() const {
    int k = static_cast<int>(params.size());
    for (bool f : fixed) k -= f ? 1 : 0;
    return k;
}

size_t FitResult::index(const std::string& name) const {
    for (size_t i = 0; i < names.size(); ++i)
        if (names[i] == name) return i;
    std::string known;
    for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
    throw std::out_of_range("fit '" + model + "' has no parameter '" + name + "' (has: " + known + ")");
}

double FitResult::param(const std::string& name) const {
    return params(static_cast<Eigen::Index>(index(name)));
}

double FitResult::std_error(const std::string& name) const {
    return std_errors(static_cast<Eigen::Index>(index(name)));
}

double FitResult::eval(double x) const {
    return model_value(model, params, x);
}

double model_value(const std::string& model, const Eigen::VectorXd& params, double x) {
    const ModelInfo& mi = info(model);
    if (params.size() != static_cast<Eigen::Index>(mi.names.size()))
        throw std::invalid_argument("model '" + model + "' takes " + std::to_string(mi.names.size()) +
                                    " parameters, got " + std::to_string(params.size()));
    return value(mi.id, params.data(), x);
}

std::vector<std::string> model_names(const std::string& model) {
    return info(model).names;
}

std::vector<std::string> model_units(const std::string& model, const std::string& x_unit, const std::string& y_unit) {
    std::vector<std::string> units;
    for (Dim d : info(model).dims) {
        switch (d) {
            case Dim::y: units.push_back(y_unit); break;
            case Dim::x: units.push_back(x_unit); break;
            case Dim::one: units.push_back("1"); break;
            case Dim::y_per_x_alpha: units.push_back(y_unit + " " + x_unit + "^-alpha"); break;
        }
    }
    return units;
}

namespace detail {

double robust_sigma(std::vector<double> r) {
    if (r.empty()) return 0;
    auto median = [](std::vector<double>& v) {
        size_t h = v.size() / 2;
        std::nth_element(v.begin(), v.begin() + h, v.end());
        double m = v[h];
        if (v.size() % 2 == 0) m = 0.5 * (m + *std::max_element(v.begin(), v.begin() + h));
        return m;
    };
    double m = median(r);
    for (double& v : r) v = std::abs(v - m);
    return 1.4826 * median(r);
}

FitResult fit_curve(const CurveProblem& cp, const FitOptions& opt) {
    const ModelInfo& mi = info(cp.model);
    const int k = static_cast<int>(mi.names.size());
    const std::string what = std::string(kCurveModels.name(cp.model)) + " fit: ";
    const size_t n = cp.x.size();
    if (cp.y.size() != n)
        throw FitError(what + "x and y differ in length (" + std::to_string(n) + " vs " + std::to_string(cp.y.size()) +
                       ")");
    for (size_t i = 0; i < n; ++i)
        if (!std::isfinite(cp.x[i]) || !std::isfinite(cp.y[i]))
            throw FitError(what + "non-finite data at index " + std::to_string(i) + " (x = " + std::to_string(cp.x[i]) +
                           ", y = " + std::to_string(cp.y[i]) + ")");
    std::vector<bool> fixed = cp.fixed.empty() ? std::vector<bool>(k, false) : cp.fixed;
    if (static_cast<int>(fixed.size()) != k || cp.lower.size() != k || cp.upper.size() != k || cp.starts.empty())
        throw std::invalid_argument(what + "problem set up with the wrong number of parameters");
    int k_free = static_cast<int>(std::count(fixed.begin(), fixed.end(), false));
    if (static_cast<int>(n) <= k_free)
        throw FitError(what + "too few points: " + std::to_string(n) + " points for " + std::to_string(k_free) +
                       " free parameters (need at least " + std::to_string(k_free + 1) + ")");
    if (opt.max_iterations < 1)
        throw FitError(what + "max_iterations must be >= 1, got " + std::to_string(opt.max_iterations));
    const Loss loss_kind = kLosses.parse(opt.loss);  // validates the name before any work

    Setup s{&mi, k, cp.x, cp.y, std::vector<double>(k), std::vector<double>(k), {}};
    for (int i = 0; i < k; ++i) {
        if (fixed[i]) s.fixed.push_back(i);
        double lo = cp.lower(i), hi = cp.upper(i);
        switch (mi.coords[i]) {
            case Coord::lin:
                s.lo[i] = std::isfinite(lo) ? lo : -kInf;
                s.hi[i] = std::isfinite(hi) ? hi : kInf;
                break;
            case Coord::log:
                s.lo[i] = std::isfinite(lo) && lo > 0 ? std::log(lo) : -kInf;
                s.hi[i] = std::isfinite(hi) && hi > 0 ? std::log(hi) : kInf;
                break;
            case Coord::ratio:
                s.lo[i] = std::log(kMinTauRatio);
                s.hi[i] = std::isfinite(hi) && cp.lower(1) > 0 ? std::log(hi / cp.lower(1)) : kInf;
                break;
        }
    }
    std::vector<std::vector<double>> starts;
    for (const auto& p : cp.starts) {
        std::vector<double> th(k);
        for (int i = 0; i < k; ++i) {
            switch (mi.coords[i]) {
                case Coord::lin: th[i] = p(i); break;
                case Coord::log: th[i] = std::log(std::max(p(i), 1e-300)); break;
                case Coord::ratio: th[i] = std::log(std::max(p(i) / p(1), kMinTauRatio)); break;
            }
        }
        starts.push_back(th);
    }

    double y_scale = 0;
    for (double v : cp.y) y_scale = std::max(y_scale, std::abs(v));

    Run best = multistart(s, starts, nullptr, opt.max_iterations);
    if (!std::isfinite(best.cost))
        throw FitError(what + "no finite solution from any of " + std::to_string(starts.size()) +
                       " starts (last Ceres message: " + best.message + ")");

    std::unique_ptr<ceres::LossFunction> loss;
    double scale = 0;
    if (loss_kind != Loss::none) {
        scale = opt.loss_scale > 0 ? opt.loss_scale : auto_scale(loss_kind, residuals(s, best.th), y_scale);
        loss = make_loss(loss_kind, scale);
        std::vector<std::vector<double>> rstarts = {best.th};
        rstarts.insert(rstarts.end(), starts.begin(), starts.end());
        Run rb = multistart(s, rstarts, loss.get(), opt.max_iterations);
        if (!std::isfinite(rb.cost))
            throw FitError(what + "robust (" + opt.loss + ") fit found no finite solution (" + rb.message + ")");
        if (opt.loss_scale <= 0) {
            // The plain fit is pulled by the outliers, so its residual spread overstates the noise: re-estimate.
            scale = auto_scale(loss_kind, residuals(s, rb.th), y_scale);
            loss = make_loss(loss_kind, scale);
            Run rc = solve(s, rb.th, loss.get(), opt.max_iterations);
            if (std::isfinite(rc.cost)) rb = rc;
        }
        best = rb;
    }

    FitResult res;
    res.model = kCurveModels.name(mi.id);
    res.formula = formula(mi.id);
    res.names = mi.names;
    res.fixed = fixed;
    res.n = static_cast<long>(n);
    res.converged = best.converged;
    res.iterations = best.iterations;
    res.message = best.message;
    res.loss_scale = scale;
    auto p = natural(s, best.th);
    res.params = Eigen::Map<Eigen::VectorXd>(p.data(), k);

    auto r = residuals(s, best.th);
    double ymean = 0;
    for (double v : cp.y) ymean += v / static_cast<double>(n);
    double tss = 0;
    for (double v : cp.y) tss += (v - ymean) * (v - ymean);
    for (double v : r) res.rss += v * v;
    const double nd = static_cast<double>(n);
    res.rmse = std::sqrt(res.rss / nd);
    res.r2 = tss > 0 ? 1.0 - res.rss / tss : kNaN;
    const double rss_floor = nd * std::pow(1e-15 * std::max(y_scale, 1e-300), 2);
    res.aic = nd * std::log(std::max(res.rss, rss_floor) / nd) + 2.0 * k_free;

    // Weights: 1 for least squares; rho'(r^2) for a robust loss (the IRLS weights at the solution).
    std::vector<double> w(n, 1.0);
    double wrss = 0;
    for (size_t i = 0; i < n; ++i) {
        if (loss) {
            double rho[3];
            loss->Evaluate(r[i] * r[i], rho);
            w[i] = std::sqrt(std::max(rho[1], 0.0));
        }
        wrss += w[i] * w[i] * r[i] * r[i];
    }
    res.sigma2 = wrss / static_cast<double>(static_cast<int>(n) - k_free);
    res.covariance = covariance(s, best.th, w, res.sigma2);
    res.std_errors = res.covariance.diagonal().cwiseMax(0.0).cwiseSqrt();
    for (int i = 0; i < k; ++i) {
        if (!std::isfinite(res.covariance(i, i))) res.std_errors(i) = kNaN;
        if (!fixed[i] && !std::isfinite(res.std_errors(i))) res.degenerate = res.converged;
    }
    return res;
}

}  // namespace detail
}  // namespace rmaat::macro
