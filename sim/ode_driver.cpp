#include "sim/ode_driver.hpp"

#include <boost/numeric/odeint.hpp>
#include <boost/numeric/odeint/external/eigen/eigen.hpp>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/config.hpp"

namespace rmaat::sim {

namespace odeint = boost::numeric::odeint;

void check_finite(const State& y, double t, const StateNamer& namer) {
    if (y.allFinite()) return;
    for (Eigen::Index k = 0; k < y.size(); ++k) {
        if (!std::isfinite(y[k])) {
            const std::string name = namer ? namer(k) : fmt::format("y[{}]", k);
            throw IntegrationError(fmt::format("non-finite state at t = {:.9g} s: {} = {}", t, name, y[k]), t, name);
        }
    }
}

namespace {

// `before` is the state at t_prev: when y is not finite, the largest component there names the
// variable that ran away (NaN spreads to every component within one step).
void check_step(double t_prev, double t_now, const IntegratorOptions& opt, const State& y, const State& before,
                const StateNamer& namer) {
    if (!y.allFinite()) {
        try {
            check_finite(y, t_now, namer);
        } catch (const IntegrationError& e) {
            Eigen::Index k = 0;
            const double big = before.cwiseAbs().maxCoeff(&k);
            const std::string name = namer ? namer(k) : fmt::format("y[{}]", k);
            throw IntegrationError(fmt::format("{} (largest at t = {:.9g} s, the step before: {} = {:.6g})", e.what(),
                                               t_prev, name, before[k] >= 0 ? big : -big),
                                   e.time_s, e.variable);
        }
    }
    if (t_now - t_prev < opt.dt_min_s * std::max(1.0, std::abs(t_now))) {
        // Name the component that changes fastest relative to its tolerance: that is where the
        // stiffness or the blow-up sits.
        Eigen::Index k = 0;
        ((y - before).cwiseAbs().array() / (opt.abs_tol + opt.rel_tol * y.cwiseAbs().array())).maxCoeff(&k);
        const std::string name = namer ? namer(k) : fmt::format("y[{}]", k);
        throw IntegrationError(
            fmt::format("integration stalled at t = {:.9g} s: step {:.3g} s below the minimum {:.3g} s; fastest "
                        "changing variable {} = {:.6g}",
                        t_now, t_now - t_prev, opt.dt_min_s, name, y[k]),
            t_now, name);
    }
}

SegmentResult integrate_dopri5(const Rhs& rhs, State& y, double t0, double t1, const IntegratorOptions& opt,
                               const StateNamer& namer, const StepObserver& observer) {
    using Stepper = odeint::runge_kutta_dopri5<State, double, State, double, odeint::vector_space_algebra>;
    auto dense = opt.dt_max_s > 0 ? odeint::make_dense_output(opt.abs_tol, opt.rel_tol, opt.dt_max_s, Stepper())
                                  : odeint::make_dense_output(opt.abs_tol, opt.rel_tol, Stepper());
    auto sys = [&rhs](const State& x, State& dxdt, double t) { rhs(x, dxdt, t); };
    dense.initialize(y, t0, std::min(opt.dt_initial_s, t1 - t0));
    State tmp(y.size());
    const Interpolator at = [&dense](double t, State& out) { dense.calc_state(t, out); };
    long steps = 0;
    while (dense.current_time() < t1) {
        const auto [ta, tb] = dense.do_step(sys);
        ++steps;
        check_step(ta, tb, opt, dense.current_state(), dense.previous_state(), namer);
        if (observer) {
            if (auto stop = observer(ta, std::min(tb, t1), at)) {
                dense.calc_state(*stop, y);
                return {*stop, true, steps};
            }
        }
    }
    if (dense.current_time() == t1)
        y = dense.current_state();
    else
        dense.calc_state(t1, y);
    return {t1, false, steps};
}

// Steps of a segment: ceil(len / dt), at least 1. A count beyond kMaxSegmentSteps (or not a number)
// would overflow the step counter (undefined behaviour that took one step): refused.
long rk4_steps(double t0, double t1, double dt) {
    const double steps = std::ceil((t1 - t0) / dt - 1e-9);
    if (!(steps <= kMaxSegmentSteps))
        throw InputError(
            fmt::format("rk4: the segment [{:.9g}, {:.9g}] s needs {:.3g} steps of dt_s = {:.3g} s, more "
                        "than the limit of {:.0e}; raise the integrator's dt_s",
                        t0, t1, steps, dt, kMaxSegmentSteps));
    return std::max(1L, static_cast<long>(steps));
}

// Fixed-step classic RK4; inside a step the state is the cubic Hermite interpolant of the end points.
SegmentResult integrate_rk4(const Rhs& rhs, State& y, double t0, double t1, const IntegratorOptions& opt,
                            const StateNamer& namer, const StepObserver& observer) {
    const long n = rk4_steps(t0, t1, opt.dt_s);
    const double h = (t1 - t0) / static_cast<double>(n);
    const Eigen::Index dim = y.size();
    State k1(dim), k2(dim), k3(dim), k4(dim), tmp(dim), y0(dim), f0(dim), f1(dim);
    rhs(y, f0, t0);
    double t = t0;
    for (long i = 0; i < n; ++i) {
        const double ta = t, tb = (i + 1 == n) ? t1 : t0 + static_cast<double>(i + 1) * h;
        const double hh = tb - ta;
        y0 = y;
        k1 = f0;
        tmp = y0 + 0.5 * hh * k1;
        rhs(tmp, k2, ta + 0.5 * hh);
        tmp = y0 + 0.5 * hh * k2;
        rhs(tmp, k3, ta + 0.5 * hh);
        tmp = y0 + hh * k3;
        rhs(tmp, k4, tb);
        y = y0 + (hh / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4);
        check_finite(y, tb, namer);
        rhs(y, f1, tb);
        t = tb;
        if (observer) {
            const Interpolator at = [&](double tq, State& out) {
                const double s = (tq - ta) / hh, s2 = s * s, s3 = s2 * s;
                out = (2 * s3 - 3 * s2 + 1) * y0 + (s3 - 2 * s2 + s) * hh * f0 + (-2 * s3 + 3 * s2) * y +
                      (s3 - s2) * hh * f1;
            };
            if (auto stop = observer(ta, tb, at)) {
                at(*stop, y);
                return {*stop, true, i + 1};
            }
        }
        f0 = f1;
    }
    return {t1, false, n};
}

}  // namespace

SegmentResult integrate_segment(const Rhs& rhs, State& y, double t0, double t1, const IntegratorOptions& opt,
                                const StateNamer& namer, const StepObserver& observer) {
    if (!(t1 > t0)) return {t0, false, 0};
    check_finite(y, t0, namer);
    if (opt.method == "rk4") return integrate_rk4(rhs, y, t0, t1, opt, namer, observer);
    if (opt.method == "dopri5") return integrate_dopri5(rhs, y, t0, t1, opt, namer, observer);
    throw std::invalid_argument("unknown integration method '" + opt.method + "' (dopri5 or rk4)");
}

IntegratorOptions read_integrator_options(const ConfigSection& s, IntegratorOptions d) {
    IntegratorOptions o;
    o.method = s.get_string("method", d.method, {"dopri5", "rk4"});
    o.rel_tol = s.get_double("rel_tol", d.rel_tol, Range{0.0, 1.0, true, true});
    o.abs_tol = s.get_double("abs_tol", d.abs_tol, Range{0.0, 1.0, true, true});
    o.dt_initial_s = s.get_double("dt_initial_s", d.dt_initial_s, Range::positive());
    o.dt_max_s = s.get_double("dt_max_s", d.dt_max_s, Range::non_negative());
    o.dt_s = s.get_double("dt_s", d.dt_s, Range::positive());
    o.dt_min_s = s.get_double("dt_min_s", d.dt_min_s, Range::positive());
    return o;
}

GridRecorder::GridRecorder(double t_start, double dt, Sink sink) : t0_(t_start), dt_(dt), sink_(std::move(sink)) {}

void GridRecorder::record_initial(const State& y0) {
    if (k_ == 0) {
        sink_(t0_, y0);
        k_ = 1;
    }
}

void GridRecorder::on_step(double t_prev, double t_now, const Interpolator& at) {
    // A tolerance of 1e-9 of dt keeps grid points that fall on a segment boundary from being lost
    // to rounding on either side.
    const double eps = 1e-9 * dt_;
    while (next_time() <= t_now + eps) {
        const double t = next_time();
        if (t > t_prev - eps) {
            at(std::clamp(t, t_prev, t_now), buf_);
            sink_(t, buf_);
        }
        ++k_;
    }
}

}  // namespace rmaat::sim
