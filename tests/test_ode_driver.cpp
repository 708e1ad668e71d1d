// The piecewise ODE driver: accuracy against closed forms, grid recording, event stops, errors.
#include <cmath>

#include "sim/ode_driver.hpp"
#include "tests/catch.hpp"

using namespace rmaat::sim;

TEST_CASE("dopri5 and rk4 follow a harmonic oscillator", "[ode]") {
    // y'' = -y: y = cos t, y' = -sin t.
    const Rhs rhs = [](const State& y, State& d, double) {
        d.resize(2);
        d << y[1], -y[0];
    };
    for (const char* method : {"dopri5", "rk4"}) {
        IntegratorOptions opt;
        opt.method = method;
        opt.rel_tol = 1e-10;
        opt.abs_tol = 1e-12;
        opt.dt_s = 1e-3;
        State y(2);
        y << 1.0, 0.0;
        std::vector<double> ts, ys;
        GridRecorder grid(0.0, 0.1, [&](double t, const State& s) {
            ts.push_back(t);
            ys.push_back(s[0]);
        });
        grid.record_initial(y);
        const auto res = integrate_segment(rhs, y, 0.0, 10.0, opt, {},
                                           [&](double a, double b, const Interpolator& at) -> std::optional<double> {
                                               grid.on_step(a, b, at);
                                               return std::nullopt;
                                           });
        INFO(method);
        CHECK(res.t_end == 10.0);
        CHECK_THAT(y[0], WithinAbs(std::cos(10.0), 1e-9));
        REQUIRE(ts.size() == 101);
        for (size_t k = 0; k < ts.size(); ++k) {
            CHECK_THAT(ts[k], WithinAbs(0.1 * k, 1e-12));
            CHECK_THAT(ys[k], WithinAbs(std::cos(ts[k]), 1e-8));  // interpolated between steps
        }
    }
}

TEST_CASE("an observer can end a segment at a located event", "[ode]") {
    // y' = 1 from 0: stop where y crosses 0.37 (located by bisection on the interpolant).
    const Rhs rhs = [](const State&, State& d, double) { d = State::Ones(1); };
    State y = State::Zero(1);
    const auto res = integrate_segment(rhs, y, 0.0, 1.0, {}, {},
                                       [](double a, double b, const Interpolator& at) -> std::optional<double> {
                                           State s;
                                           at(b, s);
                                           if (s[0] < 0.37) return std::nullopt;
                                           double lo = a, hi = b;
                                           for (int i = 0; i < 100; ++i) {
                                               const double mid = 0.5 * (lo + hi);
                                               at(mid, s);
                                               (s[0] < 0.37 ? lo : hi) = mid;
                                           }
                                           return hi;
                                       });
    CHECK(res.stopped);
    CHECK_THAT(res.t_end, WithinAbs(0.37, 1e-12));
    CHECK_THAT(y[0], WithinAbs(0.37, 1e-12));
}

TEST_CASE("blow-up is an error naming time and component", "[ode][errors]") {
    // y' = y^2 from y(0) = 1 blows up at t = 1.
    const Rhs rhs = [](const State& y, State& d, double) { d = y.cwiseProduct(y); };
    State y = State::Ones(3);
    const StateNamer namer = [](Eigen::Index k) { return "c[" + std::to_string(k) + "]"; };
    try {
        integrate_segment(rhs, y, 0.0, 2.0, {}, namer);
        FAIL("expected an IntegrationError");
    } catch (const IntegrationError& e) {
        INFO(e.what());
        CHECK(e.time_s <= 1.0 + 1e-6);
        CHECK(e.time_s > 0.9);
        CHECK_THAT(std::string(e.what()), ContainsSubstring("c[") && ContainsSubstring("t = "));
    }
    State bad(2);
    bad << 1.0, std::nan("");
    CHECK_THROWS_WITH(check_finite(bad, 0.5, namer), ContainsSubstring("non-finite state at t = 0.5 s: c[1] = nan"));
    IntegratorOptions opt;
    opt.method = "euler";
    State one = State::Ones(1);
    CHECK_THROWS_WITH(integrate_segment(rhs, one, 0.0, 0.1, opt, namer),
                      ContainsSubstring("unknown integration method"));
}

TEST_CASE("rk4 with more steps than the step counter holds is refused, not run as one step", "[ode][errors]") {
    // ceil(10 / 1e-19) = 1e20 overflowed the long step count (undefined behaviour: it took one step).
    const Rhs rhs = [](const State& y, State& d, double) { d = -y; };
    IntegratorOptions opt;
    opt.method = "rk4";
    opt.dt_s = 1e-19;
    State y = State::Ones(1);
    long steps_seen = 0;
    const StepObserver count = [&](double, double, const Interpolator&) -> std::optional<double> {
        ++steps_seen;
        return std::nullopt;
    };
    CHECK_THROWS_AS(integrate_segment(rhs, y, 0.0, 10.0, opt, {}, count), rmaat::InputError);
    CHECK_THROWS_WITH(
        integrate_segment(rhs, y, 0.0, 10.0, opt, {}, count),
        ContainsSubstring("needs 1e+20 steps of dt_s = 1e-19 s") && ContainsSubstring("raise the integrator's dt_s"));
    CHECK(steps_seen == 0);
    CHECK(y[0] == 1.0);
    opt.dt_s = 0.5;  // an ordinary step count still runs
    CHECK(integrate_segment(rhs, y, 0.0, 10.0, opt, {}).steps == 20);
}
