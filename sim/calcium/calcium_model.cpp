#include "sim/calcium/calcium_model.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <random>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "core/config.hpp"
#include "core/interrupt.hpp"
#include "core/progress.hpp"
#include "sim/recorder.hpp"

namespace rmaat::sim {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// State layout: the 10 model variables, then Q = integral of C dt (exact window means).
enum Var : Eigen::Index { kYS, kGammaS, kUS, kXS, kGammaA, kI, kC, kH, kXA, kGA, kQ, kDim };
constexpr int kTraced = kQ;  // Q is bookkeeping, not recorded
const char* const kNames[kDim] = {"Y_S", "Gamma_S", "u_S", "x_S", "Gamma_A", "I", "C", "h", "x_A", "G_A", "Q"};
const char* const kUnits[kTraced] = {"uM", "1", "1", "1", "1", "uM", "uM", "1", "1", "uM"};

// One table drives config reading, validation and error messages, so they cannot drift apart.
struct ParamSpec {
    const char* name;
    double CalciumParams::*field;
    Range range;
};

const std::vector<ParamSpec>& param_specs() {
    // Decay/relaxation rates set time constants: > 0. Flux amplitudes may be switched off: >= 0.
    const Range pos = Range::positive(), nonneg = Range::non_negative(), frac = Range::closed(0.0, 1.0);
    using P = CalciumParams;
    // clang-format off
    static const std::vector<ParamSpec> specs = {
        {"rho_c", &P::rho_c, frac},         {"Y_T", &P::Y_T, pos},
        {"Omega_c", &P::Omega_c, pos},      {"U_0_star", &P::U_0_star, frac},
        {"Omega_f", &P::Omega_f, pos},      {"Omega_d", &P::Omega_d, pos},
        {"O_G", &P::O_G, nonneg},           {"Omega_G", &P::Omega_G, pos},
        {"alpha_G", &P::alpha_G, frac},     {"O_P", &P::O_P, nonneg},
        {"K_P", &P::K_P, pos},              {"C_T", &P::C_T, pos},
        {"rho_A", &P::rho_A, nonneg},       {"Omega_C", &P::Omega_C, nonneg},
        {"Omega_L", &P::Omega_L, nonneg},   {"d_1", &P::d_1, pos},
        {"d_2", &P::d_2, pos},              {"O_2", &P::O_2, pos},
        {"d_3", &P::d_3, pos},              {"d_5", &P::d_5, pos},
        {"O_delta", &P::O_delta, nonneg},   {"kappa_delta", &P::kappa_delta, pos},
        {"K_delta", &P::K_delta, pos},      {"Omega_5P", &P::Omega_5P, pos},
        {"K_D", &P::K_D, pos},              {"K_3K", &P::K_3K, pos},
        {"O_3K", &P::O_3K, nonneg},         {"F_ex", &P::F_ex, nonneg},
        {"I_Theta", &P::I_Theta, nonneg},   {"omega_I", &P::omega_I, pos},
        {"O_beta", &P::O_beta, nonneg},     {"O_N", &P::O_N, nonneg},
        {"Omega_N", &P::Omega_N, pos},      {"K_KC", &P::K_KC, pos},
        {"zeta", &P::zeta, nonneg},         {"C_Theta", &P::C_Theta, pos},
        {"Omega_A", &P::Omega_A, pos},      {"U_A", &P::U_A, frac},
        {"G_T", &P::G_T, pos},              {"rho_e", &P::rho_e, frac},
        {"Omega_e", &P::Omega_e, pos},
    };
    // clang-format on
    return specs;
}

void calcium_rhs(const CalciumParams& p, const State& y, State& d) {
    const double Y_S = y[kYS], Gamma_S = y[kGammaS], u_S = y[kUS], x_S = y[kXS], Gamma_A = y[kGammaA];
    const double I = y[kI], C = y[kC], h = y[kH], x_A = y[kXA], G_A = y[kGA];
    d[kYS] = -p.Omega_c * Y_S;
    d[kGammaS] = p.O_G * G_A * (1.0 - Gamma_S) - p.Omega_G * Gamma_S;
    d[kUS] = -p.Omega_f * u_S;
    d[kXS] = p.Omega_d * (1.0 - x_S);
    d[kGammaA] = p.O_N * Y_S * (1.0 - Gamma_A) - p.Omega_N * (1.0 + p.zeta * C / (C + p.K_KC)) * Gamma_A;

    const double C2 = C * C, C4 = C2 * C2, K_D2 = p.K_D * p.K_D;
    const double sign_I = static_cast<double>((I > 0.0) - (I < 0.0));  // I_bias = 0
    const double J_ex = -0.5 * p.F_ex * (1.0 + std::tanh((std::abs(I) - p.I_Theta) / p.omega_I)) * sign_I;
    d[kI] = p.O_beta * Gamma_A + p.O_delta / (1.0 + I / p.kappa_delta) * C2 / (C2 + p.K_delta * p.K_delta) -
            p.O_3K * C4 / (C4 + K_D2 * K_D2) * I / (I + p.K_3K) - p.Omega_5P * I + J_ex;

    const double m_inf = I / (I + p.d_1) * C / (C + p.d_5);
    const double er = p.C_T - (1.0 + p.rho_A) * C;  // ER-cytosol gradient
    d[kC] = p.Omega_C * std::pow(m_inf * h, 3) * er + p.Omega_L * er - p.O_P * C2 / (C2 + p.K_P * p.K_P);

    const double Q_2 = p.d_2 * (I + p.d_1) / (I + p.d_3);
    const double h_inf = Q_2 / (Q_2 + C);
    d[kH] = (h_inf - h) * p.O_2 * (Q_2 + C);  // (h_inf - h) / tau_h
    d[kXA] = p.Omega_A * (1.0 - x_A);
    d[kGA] = -p.Omega_e * G_A;
    d[kQ] = C;
}

// Presynaptic spike, in Brian's order: the release probability depends on the gliotransmitter
// receptor occupancy, facilitation before depletion, glutamate from what was released.
void apply_spike(const CalciumParams& p, State& y) {
    const double U_0 = (1.0 - y[kGammaS]) * p.U_0_star + p.alpha_G * y[kGammaS];
    y[kUS] += U_0 * (1.0 - y[kUS]);
    const double r_S = y[kUS] * y[kXS];
    y[kXS] -= r_S;
    y[kYS] += p.rho_c * p.Y_T * r_S;
}

void apply_release(const CalciumParams& p, State& y) {
    y[kGA] += p.rho_e * p.G_T * p.U_A * y[kXA];
    y[kXA] -= p.U_A * y[kXA];
}

// Presynaptic spike times, generated lazily.
class SpikeTrain {
public:
    explicit SpikeTrain(const CalciumProtocol& pr) : pr_(pr), rng_(pr.seed) {
        if (pr.spikes == "none" || pr.rate_hz == 0.0)
            next_ = kInf;
        else if (pr.spikes == "regular")
            next_ = pr.t0_s;
        else
            next_ = pr.t0_s + interval();
    }
    double next() const { return next_; }
    void advance() {
        ++k_;
        // Regular times from k, not by accumulation, so that t_k carries no drift.
        next_ = pr_.spikes == "regular" ? pr_.t0_s + static_cast<double>(k_) / pr_.rate_hz : next_ + interval();
    }

private:
    // Exponential interval by inversion of 53 random bits: the same train on every standard library
    // (std::exponential_distribution's algorithm is implementation-defined).
    double interval() {
        const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;  // [0, 1)
        return -std::log1p(-u) / pr_.rate_hz;
    }
    CalciumProtocol pr_;
    std::mt19937_64 rng_;
    double next_;
    long k_ = 0;
};

// What the run collects inside the stats window [a, b] for the steady statistics.
struct Window {
    double qa = kNaN, qb = kNaN;               // Q at the window ends (segment boundaries: exact)
    double cmin = kInf, cmax = -kInf;          // over accepted step ends
    std::vector<double> release_t, release_q;  // located C_Theta crossings and Q there
};

struct SteadyStats {
    double mean, start, end, period, plain, amplitude;
    bool oscillating;
};

// Releases inside the stats window from which Ca counts as oscillating: 3, i.e. at least 2 whole
// periods (docs/design.md section 3.2). With only 2, the one-period mean differs from the reference
// rule by 1.3e-3 uM at 0.72 Hz.
constexpr size_t kMinReleasesOscillating = 3;

// Mean Ca over whole oscillation periods. The period markers are the releases: located upward
// crossings of C_Theta, where Q is known exactly. With >= kMinReleasesOscillating of them in the
// window Ca oscillates and the mean runs from the first to the last; otherwise it is the plain window
// mean. (Crossings of the window mean level are no good marker here: every presynaptic spike raises a
// Ca bump of up to ~0.05 uM, which near the quiet regime crosses that level too.)
SteadyStats steady_stats(const Window& w, double a, double b) {
    SteadyStats r{};
    r.plain = (w.qb - w.qa) / (b - a);
    r.amplitude = w.cmax - w.cmin;
    r.mean = r.plain, r.start = a, r.end = b, r.period = kNaN, r.oscillating = false;
    const size_t n = w.release_t.size();
    if (n < kMinReleasesOscillating) return r;
    r.oscillating = true;
    r.start = w.release_t.front(), r.end = w.release_t.back();
    r.mean = (w.release_q.back() - w.release_q.front()) / (r.end - r.start);
    r.period = (r.end - r.start) / static_cast<double>(n - 1);
    return r;
}

// The first problem of a run config: the key (relative to [calcium]) and the reason. One function for
// the config reader (a ConfigError at the key's line) and run_calcium (a config built in code).
struct Problem {
    std::string key, reason;
};

std::optional<Problem> find_problem(const CalciumRunConfig& cfg) {
    for (const auto& spec : param_specs()) {
        const double v = cfg.params.*spec.field;
        if (!spec.range.contains(v))
            return Problem{std::string("params.") + spec.name,
                           fmt::format("value {} out of range: must be {}", v, spec.range.requirement(v))};
    }
    const auto& pr = cfg.protocol;
    if (pr.spikes != "regular" && pr.spikes != "poisson" && pr.spikes != "none")
        return Problem{"input.spikes", fmt::format("unknown spike input '{}' (regular, poisson or none)", pr.spikes)};
    if (!(pr.rate_hz >= 0.0 && std::isfinite(pr.rate_hz)))
        return Problem{"input.rate_hz", fmt::format("rate_hz = {} must be finite and >= 0", pr.rate_hz)};
    if (!(pr.t0_s >= 0.0 && std::isfinite(pr.t0_s)))
        return Problem{"input.t0_s", fmt::format("t0_s = {} must be finite and >= 0", pr.t0_s)};
    if (!(cfg.duration_s > 0.0 && std::isfinite(cfg.duration_s)))
        return Problem{"duration_s", fmt::format("duration_s = {} must be finite and > 0", cfg.duration_s)};
    if (!(cfg.record_dt_s > 0.0 && std::isfinite(cfg.record_dt_s)))
        return Problem{"record_dt_s", fmt::format("record_dt_s = {} must be finite and > 0", cfg.record_dt_s)};
    if (!(cfg.stats_start_s >= 0.0 && cfg.stats_end_s > cfg.stats_start_s && std::isfinite(cfg.stats_end_s)))
        return Problem{"stats_window_s", fmt::format("stats window [{}, {}] must satisfy 0 <= start < end, finite",
                                                     cfg.stats_start_s, cfg.stats_end_s)};
    return std::nullopt;
}

void validate_run(const CalciumRunConfig& cfg) {
    if (const auto p = find_problem(cfg)) throw std::invalid_argument("calcium run: " + p->key + ": " + p->reason);
}

}  // namespace

CalciumParams CalciumParams::from_config(const ConfigSection& s) {
    CalciumParams p;
    for (const auto& spec : param_specs()) p.*spec.field = s.get_double(spec.name, p.*spec.field, spec.range);
    return p;
}

void CalciumParams::validate() const {
    for (const auto& spec : param_specs()) {
        const double v = this->*spec.field;
        if (!spec.range.contains(v) || !std::isfinite(v))
            throw std::invalid_argument(
                fmt::format("calcium parameter {} = {} out of range: must be {}", spec.name, v, spec.range.describe()));
    }
}

IntegratorOptions calcium_integrator_defaults() {
    IntegratorOptions o;
    o.rel_tol = 1e-10;
    o.abs_tol = 1e-12;
    o.dt_max_s = 0.1;
    o.dt_s = 1e-4;  // rk4: the step the fixed-step reference needs for 1e-3 uM traces
    return o;
}

CalciumRunConfig read_calcium_config(const ConfigSection& c) {
    CalciumRunConfig r;
    r.duration_s = c.get_double("duration_s", r.duration_s, Range::positive());
    r.record_dt_s = c.get_double("record_dt_s", r.record_dt_s, Range::positive());
    const auto w = c.get_double_array("stats_window_s", {r.stats_start_s, r.stats_end_s}, Range::non_negative());
    if (w.size() != 2 || !(w[0] < w[1])) throw c.error("stats_window_s", "expected [start, end] with start < end");
    r.stats_start_s = w[0], r.stats_end_s = w[1];

    const ConfigSection in = c.section("input");
    r.protocol.spikes = in.get_string("spikes", r.protocol.spikes, {"regular", "poisson", "none"});
    r.protocol.rate_hz = in.get_double("rate_hz", r.protocol.rate_hz, Range::non_negative());
    r.protocol.t0_s = in.get_double("t0_s", r.protocol.t0_s, Range::non_negative());
    r.protocol.seed = static_cast<std::uint64_t>(in.get_int("seed", 1, Range::at_least(0)));

    r.params = CalciumParams::from_config(c.section("params"));
    r.integrator = read_integrator_options(c.section("integrator"), calcium_integrator_defaults());
    if (const auto p = find_problem(r)) throw c.error(p->key, p->reason);
    return r;
}

std::string calcium_memory_advice() {
    return "the calcium run records its trace and spike times: raise record_dt_s, lower duration_s or input.rate_hz";
}

std::vector<Cost> calcium_costs(const CalciumRunConfig& c) {
    const double T = c.duration_s, rate = c.protocol.spikes == "none" ? 0.0 : c.protocol.rate_hz;
    const double after_t0 = std::max(0.0, T - c.protocol.t0_s);
    const double spikes = rate == 0.0                      ? 0.0
                          : c.protocol.spikes == "regular" ? std::floor(after_t0 * rate) + 1.0
                                                           : after_t0 * rate;  // Poisson: expected
    const double rows = std::floor(T / c.record_dt_s) + 1.0;
    std::vector<Cost> costs{
        Cost::events("presynaptic spikes (input.rate_hz x duration_s)", spikes,
                     {{"input.rate_hz", "lower"}, {"duration_s", "lower"}}),
        Cost::events("trace rows (duration_s / record_dt_s)", rows,
                     {{"record_dt_s", "raise"}, {"duration_s", "lower"}}),
        Cost::recorded(fmt::format("trace {:.3g} rows x {} columns, {:.3g} spike times", rows, kTraced + 1, spikes),
                       8.0 * (rows * (kTraced + 1) + spikes),
                       {{"record_dt_s", "raise"}, {"duration_s", "lower"}, {"input.rate_hz", "lower"}}),
    };
    const IntegratorOptions& in = c.integrator;
    if (in.method == "rk4")
        costs.push_back(Cost::events("rk4 steps (duration_s / integrator.dt_s, at least one per spike)",
                                     T / in.dt_s + spikes, {{"integrator.dt_s", "raise"}, {"duration_s", "lower"}}));
    else if (in.dt_max_s > 0)
        costs.push_back(Cost::events("dopri5 steps at least (duration_s / integrator.dt_max_s)", T / in.dt_max_s,
                                     {{"integrator.dt_max_s", "raise"}, {"duration_s", "lower"}}));
    return costs;
}

CalciumSummary run_calcium(const CalciumRunConfig& cfg, Recorder& rec, bool show_progress) {
    validate_run(cfg);
    const CalciumParams& p = cfg.params;
    const double T = cfg.duration_s;

    std::vector<Column> cols;
    for (int k = 0; k < kTraced; ++k) cols.push_back({kNames[k], kUnits[k], 1});
    rec.add_stream("trace", cols);
    rec.add_stream("spikes", {});
    rec.add_stream("releases", {});

    State y = State::Zero(kDim);
    y[kXS] = 1.0, y[kH] = 0.9, y[kXA] = 1.0;
    const Rhs rhs = [&p](const State& x, State& dx, double) { calcium_rhs(p, x, dx); };
    const StateNamer namer = [](Eigen::Index k) { return std::string(kNames[k]); };

    double row[kTraced];
    GridRecorder grid(0.0, cfg.record_dt_s, [&](double t, const State& s) {
        for (int k = 0; k < kTraced; ++k) row[k] = s[k];
        rec.append("trace", t, row);
    });
    grid.record_initial(y);

    // Statistics window: its ends are segment boundaries, so Q(start) and Q(end) are exact.
    const bool have_stats = T >= cfg.stats_end_s;
    const double wa = cfg.stats_start_s, wb = cfg.stats_end_s;
    Window win;
    State buf(kDim);

    // Release detector: armed while C is below threshold; an upward crossing inside a step is
    // bisected on the step's interpolant to 1e-12 s and ends the segment there.
    bool armed = y[kC] < p.C_Theta;
    const StepObserver observer = [&](double ta, double tb, const Interpolator& at) -> std::optional<double> {
        at(tb, buf);
        std::optional<double> stop;
        if (armed && buf[kC] >= p.C_Theta) {
            double lo = ta, hi = tb;
            for (int it = 0; it < 200 && hi - lo > 1e-12; ++it) {
                const double mid = 0.5 * (lo + hi);
                at(mid, buf);
                (buf[kC] >= p.C_Theta ? hi : lo) = mid;
            }
            at(hi, buf);
            stop = hi;
            armed = false;
        } else if (!armed && buf[kC] < p.C_Theta) {
            armed = true;
        }
        const double te = stop ? *stop : tb;
        grid.on_step(ta, te, at);
        if (have_stats && te > wa && te <= wb) {
            win.cmin = std::min(win.cmin, buf[kC]);
            win.cmax = std::max(win.cmax, buf[kC]);
        }
        return stop;
    };

    SpikeTrain train(cfg.protocol);
    long n_spikes = 0, n_releases = 0;
    double t = 0.0, next_flush = 10.0;
    Progress progress("calcium", T, "s", show_progress);
    try {
        for (;;) {
            while (train.next() <= t && train.next() <= T) {
                apply_spike(p, y);
                rec.append("spikes", t, row);
                ++n_spikes;
                train.advance();
            }
            if (have_stats && t == wa) win.qa = y[kQ], win.cmin = win.cmax = y[kC];
            if (have_stats && t == wb) win.qb = y[kQ];
            if (t >= T) break;
            double target = std::min(train.next(), T);
            if (have_stats && t < wa) target = std::min(target, wa);
            if (have_stats && t < wb) target = std::min(target, wb);

            const SegmentResult res = integrate_segment(rhs, y, t, target, cfg.integrator, namer, observer);
            t = res.t_end;
            if (res.stopped) {
                if (have_stats && t >= wa && t <= wb) win.release_t.push_back(t), win.release_q.push_back(y[kQ]);
                apply_release(p, y);
                rec.append("releases", t, row);
                ++n_releases;
            }
            progress.update(t);
            if (t >= next_flush) {
                rec.flush();
                next_flush = t + 10.0;
            }
            throw_if_stopped();  // a safe point between segments (core/interrupt.hpp)
        }
    } catch (const IntegrationError&) {
        rec.flush();  // what was recorded so far stays readable
        throw;
    }
    progress.finish();

    CalciumSummary sum{};
    sum.n_spikes = n_spikes;
    sum.n_releases = n_releases;
    if (have_stats) {
        const SteadyStats st = steady_stats(win, wa, wb);
        sum.mean_ca_uM = st.mean, sum.window_start_s = st.start, sum.window_end_s = st.end;
        sum.oscillating = st.oscillating, sum.period_s = st.period;
        sum.mean_ca_window_uM = st.plain, sum.amplitude_uM = st.amplitude;
    } else {
        sum.mean_ca_uM = sum.window_start_s = sum.window_end_s = sum.period_s = kNaN;
        sum.mean_ca_window_uM = sum.amplitude_uM = kNaN;
        sum.oscillating = false;
    }
    rec.summary("mean_ca", sum.mean_ca_uM, "uM");
    rec.summary("mean_ca_window", sum.mean_ca_window_uM, "uM");
    rec.summary("amplitude", sum.amplitude_uM, "uM");
    rec.summary("period", sum.period_s, "s");
    rec.summary("oscillating", sum.oscillating ? 1.0 : 0.0, "1");
    rec.summary("window_start", sum.window_start_s, "s");
    rec.summary("window_end", sum.window_end_s, "s");
    rec.summary("n_spikes", static_cast<double>(n_spikes), "1");
    rec.summary("n_releases", static_cast<double>(n_releases), "1");
    // The effective input rate (0 for the rest state), so calibration can read a sweep back from run files.
    const bool spiking = cfg.protocol.spikes != "none" && cfg.protocol.rate_hz > 0;
    rec.summary("rate_hz", spiking ? cfg.protocol.rate_hz : 0.0, "Hz");
    rec.info("spikes", cfg.protocol.spikes);
    rec.flush();
    return sum;
}

}  // namespace rmaat::sim
