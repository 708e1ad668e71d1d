#pragma once
// Piecewise ODE integration shared by the simulation models.
//
// Inputs in both models change discontinuously (stimulation phases, spikes, releases), so a run is a
// sequence of smooth segments. integrate_segment() integrates one segment with Boost.Odeint
// runge_kutta_dopri5 + dense output (or fixed-step RK4 with cubic Hermite interpolation), reports
// every accepted step to an observer that can interpolate inside it (recording on a fixed grid, event
// location), and ends at t1 or at the event time the observer returns. A fresh stepper per segment is
// the reset that FSAL steppers need after a jump.
#include <Eigen/Core>

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>

#include "core/error.hpp"

namespace rmaat {
class ConfigSection;
}

namespace rmaat::sim {

struct IntegratorOptions {
    std::string method = "dopri5";  // "dopri5" (adaptive, dense output) or "rk4" (fixed step)
    double rel_tol = 1e-6;
    double abs_tol = 1e-8;
    double dt_initial_s = 1e-4;  // first trial step of each segment (dopri5)
    double dt_max_s = 0.0;       // largest step (dopri5); 0: no limit
    double dt_s = 1e-3;          // step of rk4
    double dt_min_s = 1e-12;     // a step below this (relative to max(1, |t|)) is a stalled run
};

// Reads a [*.integrator] table: method, rel_tol, abs_tol, dt_initial_s, dt_max_s, dt_s, dt_min_s.
IntegratorOptions read_integrator_options(const ConfigSection& section, IntegratorOptions defaults = {});

// A non-finite state or a stalled step. The message names the time, the variable and its index.
struct IntegrationError : RunError {
    IntegrationError(const std::string& msg, double t, std::string variable)
        : RunError(msg), time_s(t), variable(std::move(variable)) {}
    double time_s;
    std::string variable;  // e.g. "ps[2,1]"
};

using State = Eigen::VectorXd;
using Rhs = std::function<void(const State& y, State& dydt, double t)>;
// Names state component k for error messages ("x[3]", "ps[1,2]").
using StateNamer = std::function<std::string(Eigen::Index k)>;
// Writes the state at time t (inside the last accepted step) into out.
using Interpolator = std::function<void(double t, State& out)>;
// Called after each accepted step [t_prev, t_now]. Returning a time in (t_prev, t_now] ends the
// segment there (event location); std::nullopt continues.
using StepObserver = std::function<std::optional<double>(double t_prev, double t_now, const Interpolator& at)>;

struct SegmentResult {
    double t_end;  // t1, or the event time
    bool stopped;  // true when the observer ended the segment early
    long steps;    // accepted steps
};

// The most rk4 steps one segment may take (1e15: decades of work; the step counter stays exact). A
// segment that needs more is an InputError naming dt_s; configs are checked against the smaller
// limits of sim/limits.hpp before they run.
inline constexpr double kMaxSegmentSteps = 1e15;

// Integrates y from t0 towards t1; on return y is the state at result.t_end.
SegmentResult integrate_segment(const Rhs& rhs, State& y, double t0, double t1, const IntegratorOptions& opt,
                                const StateNamer& namer, const StepObserver& observer = {});

// Checks y for NaN/Inf; throws IntegrationError naming t and the first bad component.
void check_finite(const State& y, double t, const StateNamer& namer);

// Records the state on a fixed time grid t_k = t_start + k * dt while steps go by. Feed it from a
// StepObserver; it calls sink(t_k, y(t_k)) for every grid time in (t_prev, t_now] (t_start itself is
// taken by record_initial()).
class GridRecorder {
public:
    using Sink = std::function<void(double t, const State& y)>;
    GridRecorder(double t_start, double dt, Sink sink);
    void record_initial(const State& y0);
    void on_step(double t_prev, double t_now, const Interpolator& at);
    double next_time() const { return t0_ + static_cast<double>(k_) * dt_; }

private:
    double t0_, dt_;
    long k_ = 0;
    Sink sink_;
    State buf_;
};

}  // namespace rmaat::sim
