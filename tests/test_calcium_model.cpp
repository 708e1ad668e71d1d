// Tests of the tripartite-synapse calcium model (docs/design.md section 3.2): an independent fixed-step RK4
// implementation of the same equations, the design's steady mean Ca values, invariants and bad input.
#include "tests/catch.hpp"

#include <array>
#include <cmath>
#include <limits>
#include <vector>

#include "core/config.hpp"
#include "sim/calcium/calcium_model.hpp"
#include "sim/recorder.hpp"
#include "sim/simulate.hpp"

using rmaat::Config;
using rmaat::ConfigError;
using rmaat::sim::CalciumParams;
using rmaat::sim::CalciumRunConfig;
using rmaat::sim::CalciumSummary;
using rmaat::sim::IntegrationError;
using rmaat::sim::MemoryRecorder;
using rmaat::sim::run_calcium;

namespace {

// ---- Independent reference: classic RK4 with a fixed step, written from the equations ----------
// Own state layout and code; only the parameter values come from CalciumParams.
struct RefState {
    double ys = 0, gs = 0, us = 0, xs = 1;    // synapse
    double ga = 0, ip3 = 0, ca = 0, h = 0.9;  // astrocyte
    double xa = 1, glio = 0, q = 0;           // gliotransmitter, integral of Ca
};

RefState axpy(const RefState& y, double a, const RefState& k) {
    return {y.ys + a * k.ys, y.gs + a * k.gs, y.us + a * k.us, y.xs + a * k.xs,     y.ga + a * k.ga, y.ip3 + a * k.ip3,
            y.ca + a * k.ca, y.h + a * k.h,   y.xa + a * k.xa, y.glio + a * k.glio, y.q + a * k.q};
}

double sq(double x) {
    return x * x;
}

RefState deriv(const CalciumParams& p, const RefState& y) {
    RefState d;
    d.ys = -p.Omega_c * y.ys;
    d.us = -p.Omega_f * y.us;
    d.xs = p.Omega_d * (1 - y.xs);
    d.gs = p.O_G * y.glio * (1 - y.gs) - p.Omega_G * y.gs;
    const double pkc = 1 + p.zeta * y.ca / (y.ca + p.K_KC);
    d.ga = p.O_N * y.ys * (1 - y.ga) - p.Omega_N * pkc * y.ga;
    const double sgn = y.ip3 > 0 ? 1.0 : (y.ip3 < 0 ? -1.0 : 0.0);
    const double j_ex = -p.F_ex / 2 * (1 + std::tanh((std::fabs(y.ip3) - p.I_Theta) / p.omega_I)) * sgn;
    const double plc_beta = p.O_beta * y.ga;
    const double plc_delta = p.O_delta / (1 + y.ip3 / p.kappa_delta) * sq(y.ca) / (sq(y.ca) + sq(p.K_delta));
    const double ip3_3k = p.O_3K * sq(sq(y.ca)) / (sq(sq(y.ca)) + sq(sq(p.K_D))) * y.ip3 / (y.ip3 + p.K_3K);
    d.ip3 = plc_beta + plc_delta - ip3_3k - p.Omega_5P * y.ip3 + j_ex;
    const double minf = (y.ip3 / (y.ip3 + p.d_1)) * (y.ca / (y.ca + p.d_5));
    const double j_chan = p.Omega_C * sq(minf) * minf * sq(y.h) * y.h * (p.C_T - (1 + p.rho_A) * y.ca);
    const double j_leak = p.Omega_L * (p.C_T - (1 + p.rho_A) * y.ca);
    const double j_pump = p.O_P * sq(y.ca) / (sq(y.ca) + sq(p.K_P));
    d.ca = j_chan + j_leak - j_pump;
    const double q2 = p.d_2 * (y.ip3 + p.d_1) / (y.ip3 + p.d_3);
    const double hinf = q2 / (q2 + y.ca), tau_h = 1 / (p.O_2 * (q2 + y.ca));
    d.h = (hinf - y.h) / tau_h;
    d.xa = p.Omega_A * (1 - y.xa);
    d.glio = -p.Omega_e * y.glio;
    d.q = y.ca;
    return d;
}

RefState rk4(const CalciumParams& p, const RefState& y, double h) {
    const RefState k1 = deriv(p, y), k2 = deriv(p, axpy(y, h / 2, k1)), k3 = deriv(p, axpy(y, h / 2, k2)),
                   k4 = deriv(p, axpy(y, h, k3));
    RefState out = axpy(y, h / 6, k1);
    out = axpy(out, h / 3, k2);
    out = axpy(out, h / 3, k3);
    return axpy(out, h / 6, k4);
}

struct RefRun {
    std::vector<double> ca, q;                 // C and Q every record_every steps, from t = 0
    std::vector<double> release_t, release_q;  // release times and Q there
    RefState final;
    long spikes = 0;
};

// Regular spikes t0 + k / rate, each on a step boundary; a release is placed by bisection on the
// cubic Hermite interpolant of C in the step, and the step is redone in two parts around it.
RefRun reference(const CalciumParams& p, double rate, double t0, double T, double dt, long record_every) {
    const long steps = std::lround(T / dt);
    const long spike_every = rate > 0 ? std::lround(1 / (rate * dt)) : 0, first = std::lround(t0 / dt);
    REQUIRE((rate == 0 || std::fabs(spike_every * dt - 1 / rate) < 1e-12));
    REQUIRE(std::fabs(first * dt - t0) < 1e-12);
    RefRun r;
    RefState y;
    bool armed = true;
    for (long n = 0; n <= steps; ++n) {
        if (n % record_every == 0) r.ca.push_back(y.ca), r.q.push_back(y.q);
        if (spike_every > 0 && n >= first && (n - first) % spike_every == 0) {
            const double u0 = (1 - y.gs) * p.U_0_star + p.alpha_G * y.gs;
            y.us += u0 * (1 - y.us);
            const double rs = y.us * y.xs;
            y.xs -= rs;
            y.ys += p.rho_c * p.Y_T * rs;
            ++r.spikes;
        }
        if (n == steps) break;
        RefState y1 = rk4(p, y, dt);
        if (armed && y1.ca >= p.C_Theta) {
            const double c0 = y.ca, c1 = y1.ca, m0 = dt * deriv(p, y).ca, m1 = dt * deriv(p, y1).ca;
            double lo = 0, hi = 1;
            for (int it = 0; it < 50; ++it) {
                const double s = (lo + hi) / 2, s2 = s * s, s3 = s2 * s;
                const double c =
                    (2 * s3 - 3 * s2 + 1) * c0 + (s3 - 2 * s2 + s) * m0 + (3 * s2 - 2 * s3) * c1 + (s3 - s2) * m1;
                (c >= p.C_Theta ? hi : lo) = s;
            }
            RefState ym = rk4(p, y, hi * dt);
            r.release_t.push_back((n + hi) * dt);
            r.release_q.push_back(ym.q);
            ym.glio += p.rho_e * p.G_T * p.U_A * ym.xa;
            ym.xa -= p.U_A * ym.xa;
            y1 = rk4(p, ym, (1 - hi) * dt);
            armed = false;
        } else if (!armed && y1.ca < p.C_Theta) {
            armed = true;
        }
        y = y1;
    }
    r.final = y;
    return r;
}

CalciumRunConfig run_config(double rate, double duration = 300.0) {
    CalciumRunConfig c;
    c.protocol.rate_hz = rate;
    c.duration_s = duration;
    return c;
}

double last(const Eigen::MatrixXd& col) {
    return col(col.rows() - 1, 0);
}

}  // namespace

TEST_CASE("Ca trace over the first 60 s at 1 Hz agrees with an independent RK4 within 1e-3 uM", "[calcium]") {
    CalciumRunConfig c = run_config(1.0, 60.0);
    MemoryRecorder rec;
    run_calcium(c, rec);
    const Eigen::MatrixXd ca = rec.column("trace", "C");
    const auto& t = rec.times("trace");
    const RefRun ref = reference(c.params, 1.0, 0.005, 60.0, 1e-4, 100);
    REQUIRE(ca.rows() == static_cast<long>(ref.ca.size()));
    double worst = 0;
    for (long i = 0; i < ca.rows(); ++i) {
        REQUIRE_THAT(t[i], WithinAbs(static_cast<double>(i) * 0.01, 1e-9));
        worst = std::max(worst, std::fabs(ca(i, 0) - ref.ca[i]));
    }
    INFO("max |C - C_ref| = " << worst);
    CHECK(worst < 1e-3);
    // Releases happen at the same moments.
    const auto& rel = rec.times("releases");
    REQUIRE(rel.size() == ref.release_t.size());
    REQUIRE(rel.size() >= 2);
    for (size_t i = 0; i < rel.size(); ++i) CHECK_THAT(rel[i], WithinAbs(ref.release_t[i], 1e-4));
}

TEST_CASE("long runs agree with the independent RK4 in mean Ca and releases", "[calcium]") {
    for (double rate : {1.0, 10.0}) {
        INFO("rate " << rate << " Hz");
        MemoryRecorder rec;
        const CalciumSummary s = run_calcium(run_config(rate), rec);
        const CalciumParams p;
        const RefRun whole = reference(p, rate, 0.005, 300.0, 1e-4, 600000);  // records at 0, 60, .. 300 s
        REQUIRE(whole.q.size() == 6);
        CHECK_THAT(s.mean_ca_window_uM, WithinAbs((whole.q[5] - whole.q[2]) / 180.0, 1e-6));
        CHECK(s.n_releases == static_cast<long>(whole.release_t.size()));
        CHECK(s.n_spikes == whole.spikes);
        std::vector<size_t> in;  // reference releases inside the stats window
        for (size_t i = 0; i < whole.release_t.size(); ++i)
            if (whole.release_t[i] >= 120.0) in.push_back(i);
        if (in.size() >= 3) {  // oscillating: at least 3 releases in the window
            const size_t f = in.front(), l = in.back();
            const double span = whole.release_t[l] - whole.release_t[f];
            CHECK_THAT(s.mean_ca_uM, WithinAbs((whole.release_q[l] - whole.release_q[f]) / span, 1e-6));
            CHECK_THAT(s.period_s, WithinAbs(span / static_cast<double>(in.size() - 1), 1e-3));
        }
    }
}

TEST_CASE("steady mean Ca matches the reference values within 1e-4 uM", "[calcium]") {
    struct Row {
        double rate, mean, period;  // period 0: not oscillating
    };
    // docs/design.md section 3.2: reference means; periods 24, 12 and 9.7 s (given to two digits).
    const Row rows[] = {{0.0, 0.0298, 0},   {0.5, 0.0488, 0},  {1.0, 0.1165, 24.0}, {2.0, 0.2016, 12.0},
                        {5.0, 0.3230, 9.7}, {10.0, 0.5968, 0}, {20.0, 0.6041, 0}};
    for (const Row& r : rows) {
        INFO("rate " << r.rate << " Hz");
        MemoryRecorder rec;
        const CalciumSummary s = run_calcium(run_config(r.rate), rec);
        CHECK(std::fabs(s.mean_ca_uM - r.mean) <= 1e-4);
        CHECK(rec.summary_value("mean_ca") == s.mean_ca_uM);
        CHECK(s.oscillating == (r.period > 0));
        if (r.period > 0) {
            CHECK(std::fabs(s.period_s - r.period) < 0.35);
            CHECK(s.window_start_s >= 120.0);
            CHECK(s.window_end_s <= 300.0);
            CHECK(s.window_end_s - s.window_start_s >= 2 * s.period_s - 1e-9);
        } else {
            CHECK(std::isnan(s.period_s));
            CHECK(s.mean_ca_uM == s.mean_ca_window_uM);
            CHECK(s.window_start_s == 120.0);
            CHECK(s.window_end_s == 300.0);
        }
    }
}

TEST_CASE("regimes: quiet, oscillating, high fixed point", "[calcium]") {
    // docs/design.md section 3.2: quiet below ~0.65 Hz, oscillating ~0.8 to 7.7 Hz, high fixed point above ~9.5 Hz.
    for (double rate : {0.65, 0.8, 7.7, 9.5}) {
        INFO("rate " << rate << " Hz");
        MemoryRecorder rec;
        const CalciumSummary s = run_calcium(run_config(rate), rec);
        CHECK(s.oscillating == (rate > 0.7 && rate < 9));
        if (rate < 0.7) CHECK(s.amplitude_uM < 0.05);  // only spike-driven bumps
        if (rate > 9) CHECK(s.amplitude_uM < 0.01);    // ripple around the fixed point
        if (s.oscillating) CHECK(s.amplitude_uM > 0.5);
    }
}

TEST_CASE("whole-period mean differs from the plain window mean at 1 Hz as in the design", "[calcium]") {
    MemoryRecorder rec;
    const CalciumSummary s = run_calcium(run_config(1.0), rec);
    CHECK(std::fabs(s.mean_ca_window_uM - 0.1108) <= 1e-4);
    CHECK(std::fabs(s.mean_ca_uM - 0.1165) <= 1e-4);
    CHECK(rec.summary_value("period") == s.period_s);
    CHECK_THAT(s.period_s, WithinAbs(24.0, 0.5));
}

TEST_CASE("Ca oscillates only with at least 3 releases in the stats window (2 whole periods)", "[calcium]") {
    // Release times at 1 Hz (period ~24 s), then windows placed between them: the window ends sit 1 s or
    // more away from every release, far more than the window ends can shift a release time.
    MemoryRecorder first;
    run_calcium(run_config(1.0, 250.0), first);
    std::vector<double> rel;
    for (double t : first.times("releases"))
        if (t > 100.0) rel.push_back(t);
    REQUIRE(rel.size() >= 4);
    auto window_with = [&](size_t n) {  // a window holding releases rel[0..n-1]
        CalciumRunConfig c = run_config(1.0);
        c.stats_start_s = rel[0] - 1.0;
        c.stats_end_s = c.duration_s = 0.5 * (rel[n - 1] + rel[n]);
        MemoryRecorder rec;
        const CalciumSummary s = run_calcium(c, rec);
        INFO(n << " releases in [" << c.stats_start_s << ", " << c.stats_end_s << "]");
        REQUIRE(s.n_releases >= static_cast<long>(n));
        return std::make_pair(c, s);
    };
    {  // exactly 2: one period is not enough to call it an oscillation, and the mean is the plain one
        const auto [c, s] = window_with(2);
        CHECK_FALSE(s.oscillating);
        CHECK(s.mean_ca_uM == s.mean_ca_window_uM);
        CHECK(std::isnan(s.period_s));
        CHECK(s.window_start_s == c.stats_start_s);
        CHECK(s.window_end_s == c.stats_end_s);
    }
    {  // exactly 3: two whole periods, the mean runs from the first release to the last
        const auto [c, s] = window_with(3);
        CHECK(s.oscillating);
        CHECK_THAT(s.window_start_s, WithinAbs(rel[0], 1e-6));
        CHECK_THAT(s.window_end_s, WithinAbs(rel[2], 1e-6));
        CHECK_THAT(s.period_s, WithinAbs(0.5 * (rel[2] - rel[0]), 1e-6));
        CHECK(s.mean_ca_uM != s.mean_ca_window_uM);
    }
}

TEST_CASE("without input the state stays finite and settles at a fixed point", "[calcium]") {
    for (const char* spikes : {"regular", "none"}) {
        CalciumRunConfig c = run_config(0.0, 600.0);
        c.protocol.spikes = spikes;
        if (std::string(spikes) == "none") c.protocol.rate_hz = 5.0;  // ignored
        MemoryRecorder rec;
        const CalciumSummary s = run_calcium(c, rec);
        CHECK(s.n_spikes == 0);
        CHECK(s.n_releases == 0);
        CHECK_FALSE(s.oscillating);
        RefState y;
        y.ys = last(rec.column("trace", "Y_S")), y.gs = last(rec.column("trace", "Gamma_S"));
        y.us = last(rec.column("trace", "u_S")), y.xs = last(rec.column("trace", "x_S"));
        y.ga = last(rec.column("trace", "Gamma_A")), y.ip3 = last(rec.column("trace", "I"));
        y.ca = last(rec.column("trace", "C")), y.h = last(rec.column("trace", "h"));
        y.xa = last(rec.column("trace", "x_A")), y.glio = last(rec.column("trace", "G_A"));
        for (const char* v : {"Y_S", "Gamma_S", "u_S", "x_S", "Gamma_A", "I", "C", "h", "x_A", "G_A"})
            CHECK(rec.column("trace", v).allFinite());
        const RefState d = deriv(CalciumParams{}, y);
        for (double dv : {d.ys, d.gs, d.us, d.xs, d.ga, d.ip3, d.ca, d.h, d.xa, d.glio}) CHECK(std::fabs(dv) < 1e-9);
        CHECK_THAT(y.ca, WithinAbs(0.0298, 1e-4));
        CHECK(y.ip3 > 0);
    }
}

TEST_CASE("fractions stay in [0, 1] and concentrations non-negative", "[calcium]") {
    for (const char* spikes : {"regular", "poisson"}) {
        for (double rate : {1.0, 5.0, 20.0}) {
            INFO(spikes << " " << rate << " Hz");
            CalciumRunConfig c = run_config(rate, 120.0);
            c.protocol.spikes = spikes;
            MemoryRecorder rec;
            run_calcium(c, rec);
            for (const char* v : {"Gamma_S", "u_S", "x_S", "Gamma_A", "h", "x_A"}) {
                const Eigen::MatrixXd col = rec.column("trace", v);
                INFO(v);
                CHECK(col.minCoeff() >= 0.0);
                CHECK(col.maxCoeff() <= 1.0);
            }
            for (const char* v : {"Y_S", "I", "C", "G_A"}) {
                INFO(v);
                CHECK(rec.column("trace", v).minCoeff() >= -1e-12);
            }
            const CalciumParams p;
            CHECK(rec.column("trace", "C").maxCoeff() <= p.C_T / (1 + p.rho_A));
        }
    }
}

TEST_CASE("regular input gives floor((T - t0) f) + 1 spikes at t0 + k / f", "[calcium]") {
    struct Case {
        double rate, t0, T;
    };
    for (const Case& k : {Case{1.0, 0.005, 10.0}, Case{3.0, 0.0, 7.3}, Case{7.7, 0.25, 4.0}, Case{20.0, 0.005, 5.0}}) {
        INFO("rate " << k.rate << " t0 " << k.t0 << " T " << k.T);
        CalciumRunConfig c = run_config(k.rate, k.T);
        c.protocol.t0_s = k.t0;
        MemoryRecorder rec;
        const CalciumSummary s = run_calcium(c, rec);
        const long expected = static_cast<long>(std::floor((k.T - k.t0) * k.rate)) + 1;
        CHECK(s.n_spikes == expected);
        CHECK(rec.summary_value("n_spikes") == expected);
        const auto& ts = rec.times("spikes");
        REQUIRE(static_cast<long>(ts.size()) == expected);
        for (size_t i = 0; i < ts.size(); ++i) CHECK(ts[i] == k.t0 + static_cast<double>(i) / k.rate);
    }
}

TEST_CASE("Poisson input is seeded and has the requested rate", "[calcium]") {
    auto spikes = [](std::uint64_t seed) {
        CalciumRunConfig c = run_config(5.0, 200.0);
        c.protocol.spikes = "poisson";
        c.protocol.seed = seed;
        MemoryRecorder rec;
        run_calcium(c, rec);
        return rec.times("spikes");
    };
    const auto a = spikes(7), b = spikes(7), d = spikes(8);
    CHECK(a == b);
    CHECK(a != d);
    CHECK(std::fabs(static_cast<double>(a.size()) - 1000.0) < 5 * std::sqrt(1000.0));
    CHECK(a.front() > 0.005);
    for (size_t i = 1; i < a.size(); ++i) CHECK(a[i] > a[i - 1]);
}

TEST_CASE("releases happen only at located upward crossings of C_Theta", "[calcium]") {
    const CalciumParams p;
    CalciumRunConfig c = run_config(1.0, 100.0);
    c.record_dt_s = 1e-3;
    MemoryRecorder rec;
    run_calcium(c, rec);
    const auto& rel = rec.times("releases");
    const auto& t = rec.times("trace");
    const Eigen::MatrixXd ca = rec.column("trace", "C"), xa = rec.column("trace", "x_A");
    REQUIRE(rel.size() >= 3);
    for (size_t i = 0; i < rel.size(); ++i) {
        INFO("release " << i << " at " << rel[i]);
        const long k = static_cast<long>(std::floor(rel[i] / 1e-3));  // grid point just before
        CHECK(ca(k, 0) < p.C_Theta);
        CHECK(ca(k + 1, 0) > p.C_Theta);
        CHECK(xa(k + 1, 0) < xa(k, 0));  // resources used
        if (i > 0) {                     // re-armed in between: C went back below threshold
            const long k0 = static_cast<long>(std::ceil(rel[i - 1] / 1e-3));
            CHECK(ca.block(k0, 0, k - k0 + 1, 1).minCoeff() < p.C_Theta);
        }
        CHECK(t[k] <= rel[i]);
    }
    // C at the release time itself: the same run stopped there ends on the located crossing.
    for (size_t i = 0; i < 3; ++i) {
        CalciumRunConfig s = c;
        s.duration_s = rel[i];
        s.record_dt_s = rel[i];
        MemoryRecorder r2;
        run_calcium(s, r2);
        const Eigen::MatrixXd c2 = r2.column("trace", "C");
        REQUIRE(c2.rows() == 2);
        CHECK(std::fabs(c2(1, 0) - p.C_Theta) < 1e-9);
    }
}

TEST_CASE("recorded streams and summaries", "[calcium]") {
    CalciumRunConfig c = run_config(2.0, 30.0);
    c.record_dt_s = 0.05;
    MemoryRecorder rec;
    const CalciumSummary s = run_calcium(c, rec);
    CHECK(rec.times("trace").size() == 601);
    CHECK_THAT(rec.times("trace").back(), WithinAbs(30.0, 1e-9));
    CHECK(rec.column("trace", "G_A").rows() == 601);
    CHECK(rec.times("releases").size() == static_cast<size_t>(s.n_releases));
    CHECK(rec.summary_value("n_releases") == s.n_releases);
    // The run ends before the stats window does: no steady statistics.
    CHECK(std::isnan(s.mean_ca_uM));
    CHECK(std::isnan(rec.summary_value("mean_ca")));
    CHECK(rec.has_summary("period"));
    CHECK(rec.has_summary("oscillating"));
}

TEST_CASE("config: keys map onto the run config with the model's defaults", "[calcium][config]") {
    const Config cfg = Config::from_string(R"(
[calcium]
duration_s = 200.0
record_dt_s = 0.02
stats_window_s = [50.0, 200.0]
[calcium.input]
spikes = "poisson"
rate_hz = 3.5
t0_s = 0.0
seed = 42
[calcium.params]
O_beta = 0.5
alpha_G = 1.0
Omega_G = 0.01
[calcium.integrator]
abs_tol = 1e-11
)",
                                           "calcium.toml");
    const CalciumRunConfig c = rmaat::sim::read_calcium_config(cfg.section("calcium"));
    cfg.check_all_used();
    CHECK(c.duration_s == 200.0);
    CHECK(c.record_dt_s == 0.02);
    CHECK(c.stats_start_s == 50.0);
    CHECK(c.stats_end_s == 200.0);
    CHECK(c.protocol.spikes == "poisson");
    CHECK(c.protocol.rate_hz == 3.5);
    CHECK(c.protocol.t0_s == 0.0);
    CHECK(c.protocol.seed == 42u);
    CHECK(c.params.O_beta == 0.5);
    CHECK(c.params.alpha_G == 1.0);
    CHECK(c.params.Omega_G == 0.01);
    CHECK(c.params.O_delta == 0.6);  // default
    CHECK(c.integrator.abs_tol == 1e-11);
    CHECK(c.integrator.rel_tol == 1e-10);  // the model's default, not the driver's
    CHECK(c.integrator.method == "dopri5");
}

TEST_CASE("config: the example file reads", "[calcium][config]") {
    const Config cfg = Config::from_file(RMAAT_SOURCE_DIR "/examples/calcium_1hz.toml");
    const CalciumRunConfig c = rmaat::sim::read_calcium_config(cfg.section("calcium"));
    CHECK(c.protocol.rate_hz == 1.0);
    CHECK(c.duration_s == 300.0);
}

TEST_CASE("config: bad values are errors naming the key and line", "[calcium][config]") {
    auto read = [](const std::string& text) {
        const Config cfg = Config::from_string(text, "bad.toml");
        rmaat::sim::read_calcium_config(cfg.section("calcium"));
        cfg.check_all_used();
    };
    CHECK_THROWS_WITH(read("[calcium.params]\nOmega_c = -40.0\n"),
                      ContainsSubstring("bad.toml:2") && ContainsSubstring("calcium.params.Omega_c"));
    CHECK_THROWS_WITH(read("[calcium.params]\nOmega_e = 0.0\n"), ContainsSubstring("calcium.params.Omega_e"));
    CHECK_THROWS_WITH(read("[calcium.params]\nU_A = 1.5\n"), ContainsSubstring("calcium.params.U_A"));
    CHECK_THROWS_WITH(read("[calcium.params]\nO_beta = \"fast\"\n"), ContainsSubstring("calcium.params.O_beta"));
    CHECK_THROWS_WITH(read("[calcium.input]\nrate_hz = -1.0\n"),
                      ContainsSubstring("bad.toml:2") && ContainsSubstring("calcium.input.rate_hz"));
    CHECK_THROWS_WITH(read("[calcium.input]\nspikes = \"bursts\"\n"), ContainsSubstring("calcium.input.spikes"));
    CHECK_THROWS_WITH(read("[calcium]\nstats_window_s = [300.0, 120.0]\n"),
                      ContainsSubstring("calcium.stats_window_s"));
    CHECK_THROWS_WITH(read("[calcium.integrator]\nrel_tol = -1e-6\n"), ContainsSubstring("calcium.integrator.rel_tol"));
    CHECK_THROWS_AS(read("[calcium.params]\nOmega_c = -40.0\n"), ConfigError);
}

TEST_CASE("config: unknown key under [calcium.params] is an error", "[calcium][config]") {
    auto read = [](const std::string& text) {
        const Config cfg = Config::from_string(text, "typo.toml");
        rmaat::sim::read_calcium_config(cfg.section("calcium"));
        cfg.check_all_used();
    };
    CHECK_THROWS_AS(read("[calcium.params]\nOmega_cc = 40.0\n"), ConfigError);
    CHECK_THROWS_WITH(read("[calcium.params]\nOmega_cc = 40.0\n"),
                      ContainsSubstring("typo.toml:2") && ContainsSubstring("calcium.params.Omega_cc"));
    CHECK_THROWS_WITH(read("[calcium]\nduration = 10.0\n"), ContainsSubstring("calcium.duration"));
}

TEST_CASE("parameters set in code are validated", "[calcium]") {
    CalciumRunConfig c = run_config(1.0, 1.0);
    c.params.Omega_e = -60.0;
    MemoryRecorder rec;
    CHECK_THROWS_WITH(run_calcium(c, rec), ContainsSubstring("Omega_e"));
    c.params = CalciumParams{};
    c.params.K_P = std::numeric_limits<double>::quiet_NaN();
    CHECK_THROWS_WITH(c.params.validate(), ContainsSubstring("K_P"));
    c.params = CalciumParams{};
    c.protocol.rate_hz = -2.0;
    CHECK_THROWS_WITH(run_calcium(c, rec), ContainsSubstring("rate_hz"));
}

TEST_CASE("a blow-up is an IntegrationError naming time and variable, with the trace so far kept", "[calcium]") {
    // Validation allows any O_beta >= 0; near DBL_MAX the first spike drives IP3 to infinity.
    CalciumRunConfig c = run_config(1.0, 10.0);
    c.protocol.t0_s = 0.5;
    c.params.O_beta = 1.7e308;
    c.integrator.method = "rk4";
    MemoryRecorder rec;
    try {
        run_calcium(c, rec);
        FAIL("no IntegrationError");
    } catch (const IntegrationError& e) {
        CHECK(e.variable == "I");
        CHECK(e.time_s > 0.5);
        CHECK(e.time_s < 0.51);
        CHECK_THAT(e.what(), ContainsSubstring("I = inf"));
    }
    const auto& t = rec.times("trace");
    CHECK(t.size() == 51);  // 0 .. 0.5 s
    CHECK(rec.column("trace", "C").allFinite());
    // The adaptive integrator gives up too (non-finite state or a collapsed step), also naming the variable.
    c.integrator.method = "dopri5";
    MemoryRecorder rec2;
    try {
        run_calcium(c, rec2);
        FAIL("no IntegrationError");
    } catch (const IntegrationError& e) {
        INFO(e.what());
        CHECK(e.variable == "I");
        CHECK(e.time_s >= 0.5);
    }
}

TEST_CASE("config: values that are not finite are config errors naming file, line and key", "[calcium][config]") {
    // They passed the ranges and failed only in run_calcium, after the run file was created, without a line.
    auto read = [](const std::string& text) {
        const Config cfg = Config::from_string(text, "inf.toml");
        rmaat::sim::read_calcium_config(cfg.section("calcium"));
    };
    CHECK_THROWS_AS(read("[calcium.params]\nK_P = inf\n"), ConfigError);
    CHECK_THROWS_WITH(
        read("[calcium.params]\nK_P = inf\n"),
        ContainsSubstring("inf.toml:2: calcium.params.K_P: value inf out of range: must be finite and > 0"));
    CHECK_THROWS_WITH(read("[calcium]\nduration_s = inf\n"), ContainsSubstring("inf.toml:2: calcium.duration_s"));
    CHECK_THROWS_WITH(read("[calcium]\nrecord_dt_s = inf\n"), ContainsSubstring("inf.toml:2: calcium.record_dt_s"));
    CHECK_THROWS_WITH(read("[calcium.input]\nrate_hz = inf\n"), ContainsSubstring("inf.toml:2: calcium.input.rate_hz"));
    CHECK_THROWS_WITH(read("[calcium]\nstats_window_s = [0.0, inf]\n"),
                      ContainsSubstring("inf.toml:2: calcium.stats_window_s"));
}

TEST_CASE("a calcium run that cannot finish or fit is refused before it starts, naming the key", "[calcium][limits]") {
    auto check = [](const std::string& toml, rmaat::sim::Limits limits = {}) {
        rmaat::sim::simulate_to_file(Config::from_string(toml, "ca.toml"), "", "", false, true, rmaat::Replace::no, limits);
    };
    rmaat::sim::Limits allow;
    allow.allow_large = true;
    // 1e300 Hz for 300 s: the spike loop never left t0.
    CHECK_THROWS_WITH(check("[calcium.input]\nrate_hz = 1e300\n", allow),
                      ContainsSubstring("ca.toml:2: calcium.input.rate_hz: the run would take 3e+302 presynaptic "
                                        "spikes") &&
                          ContainsSubstring("cannot finish"));
    CHECK_THROWS_WITH(check("[calcium]\nrecord_dt_s = 1e-300\n", allow),
                      ContainsSubstring("ca.toml:2: calcium.record_dt_s: the run would take 3e+302 trace rows"));
    CHECK_THROWS_WITH(check("[calcium]\nduration_s = 1e300\n", allow),
                      ContainsSubstring("ca.toml:2: calcium.duration_s"));
    // 3e8 rows of 11 columns: 24.6 GiB, refused unless allowed.
    CHECK_THROWS_WITH(check("[calcium]\nrecord_dt_s = 1e-6\n"),
                      ContainsSubstring("calcium.record_dt_s: the run would record 24.6 GiB in the run file") &&
                          ContainsSubstring("or pass --allow-large"));
    CHECK_NOTHROW(check("[calcium]\nrecord_dt_s = 1e-6\n", allow));
    CHECK_THROWS_WITH(check("[calcium.integrator]\nmethod = \"rk4\"\ndt_s = 1e-15\n"),
                      ContainsSubstring("ca.toml:3: calcium.integrator.dt_s: the run would take 3e+17 rk4 steps"));
    CHECK_THROWS_WITH(check("[calcium.integrator]\ndt_max_s = 1e-9\n"),
                      ContainsSubstring("calcium.integrator.dt_max_s: the run would take 3e+11 dopri5 steps"));
    CHECK_NOTHROW(check("[calcium]\nduration_s = 10.0\n"));
}
