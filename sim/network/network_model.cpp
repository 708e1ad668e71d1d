#include "sim/network/network_model.hpp"

#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include "core/config.hpp"
#include "core/interrupt.hpp"
#include "core/log.hpp"
#include "core/progress.hpp"

namespace rmaat::sim {

namespace {
template <typename V>
Eigen::VectorXd map_act(const Activation& a, const V& v) {
    return v.unaryExpr([&a](double z) { return a(z); });
}
}  // namespace

NetworkModel::NetworkModel(const NetworkParams& p, const Geometry& g, const CouplingOptions& c)
    : p_(p),
      geometry_(g),
      coupling_(g, p.lambda_dx * g.dx_um, p.w_T, c),
      u_(Eigen::VectorXd::Zero(g.n_pre)),
      I_(Eigen::VectorXd::Zero(g.n_syn())),
      Fu_(map_act(p.F, u_)),
      psi_(g.n_syn()),
      coupled_(g.n_syn()) {}

void NetworkModel::set_inputs(const Eigen::VectorXd& u, const Eigen::VectorXd& I) {
    u_ = u;
    I_ = I;
    Fu_ = map_act(p_.F, u_);
}

void NetworkModel::rhs(const State& y, State& dydt) const {
    const long np = n_pre(), nq = n_post(), n = n_syn();
    dydt.resize(y.size());
    const auto x = y.segment(0, nq);
    const auto s = y.segment(nq, n);
    const auto ps = y.segment(nq + n, n);
    const auto pl = y.segment(nq + 2 * n, n);
    // Row-major n_pre x n_post views of the synaptic arrays.
    using RowMat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    const Eigen::Map<const RowMat> S(s.data(), np, nq);
    const Eigen::VectorXd Fx = map_act(p_.F, x);

    // Neurons: sum_i G(s_ij) F(u_i).
    const RowMat GS = S.unaryExpr([this](double z) { return p_.G(z); });
    dydt.segment(0, nq) = (-x + GS.transpose() * Fu_ + Eigen::VectorXd::Constant(nq, p_.b)) / p_.tau_n;

    // Synapses and STP.
    for (long k = 0; k < n; ++k) psi_[k] = p_.Psi(ps[k]);
    coupling_.apply(psi_, coupled_);
    Eigen::Map<RowMat> dS(dydt.data() + nq, np, nq);
    dS = (Fu_ * Fx.transpose()) - p_.beta * S;
    auto ds = dydt.segment(nq, n);
    ds = (ds + psi_ + I_) / p_.tau_s;
    auto dps = dydt.segment(nq + n, n);
    auto dpl = dydt.segment(nq + 2 * n, n);
    for (long k = 0; k < n; ++k) {
        dps[k] = (-p_.gamma_s * ps[k] + coupled_[k] + p_.K(s[k])) / p_.tau_ps;
        dpl[k] = (-p_.gamma_l * pl[k] + p_.K_l(ps[k]) * (1.0 - pl[k] / p_.pl_max)) / p_.tau_pl;
    }
}

std::string NetworkModel::name_of(Eigen::Index k) const {
    const long nq = n_post(), n = n_syn();
    if (k < nq) return fmt::format("x[{}]", k);
    static const char* names[] = {"s", "ps", "pl"};
    const long which = (k - nq) / n, syn = (k - nq) % n;
    return fmt::format("{}[{},{}]", names[which], syn / nq, syn % nq);
}

NetworkRunConfig read_network_config(const ConfigSection& net, const std::string& config_dir,
                                     const NetworkRunConfig& d) {
    NetworkRunConfig c;
    const long n_pre = net.get_int("n_pre", d.geometry.n_pre, Range::closed(1, 1024));
    const long n_post = net.get_int("n_post", d.geometry.n_post, Range::closed(1, 1024));
    c.cycles = net.get_int("cycles", d.cycles, Range::closed(1, 100000));
    c.record_dt_s = net.get_double("record_dt_s", d.record_dt_s, Range::positive());
    c.record_full = net.get_bool("record_full", n_pre * n_post <= 256);
    c.params = NetworkParams::from_config(net.section("params"), net.section("nonlinearity"), d.params);
    c.geometry = Geometry::from_config(net.section("geometry"), n_pre, n_post, config_dir, d.geometry);
    const ConfigSection cs = net.section("coupling");
    c.coupling.path = cs.get_string("path", d.coupling.path == CouplingOptions::Path::dense ? "dense" : "fast",
                                    {"fast", "dense"}) == "dense"
                          ? CouplingOptions::Path::dense
                          : CouplingOptions::Path::fast;
    c.coupling.sparse_cutoff = cs.get_double("sparse_cutoff", d.coupling.sparse_cutoff, Range{0.0, 1.0, false, true});
    // The dense check builds the n_syn x n_syn kernel too: the same memory bound as the dense path.
    c.coupling.check_max_synapses =
        cs.get_int("check_max_synapses", d.coupling.check_max_synapses, Range::closed(0, double(kMaxDenseSynapses)));
    if (c.coupling.path == CouplingOptions::Path::dense && n_pre * n_post > kMaxDenseSynapses)
        throw cs.error("path",
                       fmt::format("dense coupling of {} synapses needs {:.1f} GB (limit {} synapses); use \"fast\"",
                                   n_pre * n_post, 8.0 * double(n_pre * n_post) * double(n_pre * n_post) / 1e9,
                                   kMaxDenseSynapses));
    c.protocol = Protocol::from_config(net.section("protocol"), n_pre, n_post, d.protocol);
    c.integrator = read_integrator_options(net.section("integrator"), d.integrator);
    return c;
}

std::vector<Cost> network_costs(const NetworkRunConfig& c) {
    const double n = double(c.geometry.n_syn()), nq = double(c.geometry.n_post), cycles = double(c.cycles);
    const double duration = cycles * c.protocol.cycle_s();
    const double rows = std::floor(duration / c.record_dt_s) + 1.0;
    const double trace_cols = 1.0 + nq + 3.0 + (c.record_full ? 3.0 * n : 0.0);
    const double bytes = 8.0 * (rows * trace_cols + (2.0 * cycles + 1.0) * (2.0 + n) + 2.0 * n);
    const std::vector<Knob> grid{{"record_dt_s", "raise"}, {"cycles", "lower"}};
    std::vector<Knob> data = grid;
    if (c.record_full) data.insert(data.begin(), Knob{"record_full", "set", " = false"});
    std::vector<Cost> costs{
        Cost::events("trace rows (cycles x (t_on_s + t_off_s) / record_dt_s)", rows, grid),
        Cost::recorded(fmt::format("trace {:.3g} rows x {:.3g} columns, ltp and stp {:.3g} synapses x {} cycles", rows,
                                   trace_cols, n, c.cycles),
                       bytes, data),
    };
    const IntegratorOptions& in = c.integrator;
    if (in.method == "rk4") {
        const double steps =
            cycles * (std::ceil(c.protocol.t_on_s / in.dt_s) + std::ceil(c.protocol.t_off_s / in.dt_s));
        costs.push_back(Cost::events("rk4 steps (cycles x (t_on_s + t_off_s) / integrator.dt_s)", steps,
                                     {{"integrator.dt_s", "raise"}, {"cycles", "lower"}}));
    } else if (in.dt_max_s > 0) {
        costs.push_back(Cost::events("dopri5 steps at least (cycles x (t_on_s + t_off_s) / integrator.dt_max_s)",
                                     duration / in.dt_max_s, {{"integrator.dt_max_s", "raise"}, {"cycles", "lower"}}));
    }
    if (!c.geometry.on_lattice() && c.coupling.path == CouplingOptions::Path::fast)
        costs.push_back(Cost::events("coupling-kernel entries (n_syn^2 pairs of a coordinate file)", n * n,
                                     {{"n_pre", "lower"}, {"n_post", "lower"}}));
    return costs;
}

std::string network_memory_advice(const NetworkRunConfig& c) {
    const bool dense = c.coupling.path == CouplingOptions::Path::dense;
    return fmt::format("the network of {} synapses holds its state{}{}: lower n_pre x n_post{}{}", c.geometry.n_syn(),
                       dense ? ", a dense n_syn x n_syn coupling kernel" : " and coupling",
                       c.record_full ? " and records whole s, ps, pl arrays" : "",
                       dense ? ", use coupling.path = \"fast\"" : "", c.record_full ? ", set record_full = false" : "");
}

NetworkSummary run_network(const NetworkRunConfig& cfg, Recorder& rec, bool show_progress) {
    const auto setup_start = std::chrono::steady_clock::now();
    NetworkModel model(cfg.params, cfg.geometry, cfg.coupling);
    NetworkSummary out;
    out.setup_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - setup_start).count();
    out.coupling_rel_error = model.coupling().measured_rel_error();
    const long n = model.n_syn(), nq = model.n_post();
    const double loop = cfg.params.stp_loop_gain();
    if (cfg.params.gamma_s <= loop)
        log::warn(
            "gamma_s = {} does not exceed the STP loop gain {:.3g} (w_T Psi'(0) + K'(0) Psi'(0) / beta): "
            "short-term activity will not decay between cycles",
            cfg.params.gamma_s, loop);

    rec.info("geometry", Geometry::name(cfg.geometry.kind));
    rec.info("coupling_path", model.coupling().path_name());
    rec.info("coupling_method", model.coupling().method());
    rec.info("protocol", Protocol::name(cfg.protocol.kind));
    rec.info("integrator", cfg.integrator.method);
    rec.array("positions", cfg.geometry.positions, "um");
    rec.summary("n_pre", double(model.n_pre()), "1");
    rec.summary("n_post", double(nq), "1");
    rec.summary("rho_K", model.coupling().rho_K(), "1");
    rec.summary("coupling_measured_rel_error", model.coupling().measured_rel_error(), "1");
    rec.summary("coupling_a_priori_rel_bound", model.coupling().a_priori_rel_bound(), "1");

    std::vector<Column> trace_cols{{"x", "1", nq}, {"s_mean", "1", 1}, {"ps_mean", "1", 1}, {"pl_mean", "1", 1}};
    if (cfg.record_full) {
        trace_cols.push_back({"s", "1", n});
        trace_cols.push_back({"ps", "1", n});
        trace_cols.push_back({"pl", "1", n});
    }
    rec.add_stream("trace", trace_cols);
    rec.add_stream("ltp", {{"pl_mean", "1", 1}, {"pl", "1", n}});
    rec.add_stream("stp", {{"ps_mean", "1", 1}, {"ps", "1", n}});

    std::vector<double> row;
    auto record_trace = [&](double t, const State& y) {
        row.clear();
        row.insert(row.end(), y.data(), y.data() + nq);
        row.push_back(model.s(y).mean());
        row.push_back(model.ps(y).mean());
        row.push_back(model.pl(y).mean());
        if (cfg.record_full) row.insert(row.end(), y.data() + nq, y.data() + nq + 3 * n);
        rec.append("trace", t, row.data());
    };
    auto record_block = [&](const char* stream, double t, const Eigen::VectorXd& v) {
        row.assign(1, v.mean());
        row.insert(row.end(), v.data(), v.data() + v.size());
        rec.append(stream, t, row.data());
    };

    State y = model.initial_state();
    GridRecorder grid(0.0, cfg.record_dt_s, record_trace);
    grid.record_initial(y);
    record_block("ltp", 0.0, model.pl(y));
    out.ltp.push_back(model.pl(y).mean());

    Stimulus stim(cfg.protocol, model.n_pre(), nq);
    if (cfg.protocol.kind == Protocol::Kind::focal) rec.summary("focal_index", double(stim.focal_index()), "1");
    Eigen::VectorXd u, I;
    const auto namer = [&model](Eigen::Index k) { return model.name_of(k); };
    const Rhs rhs = [&model](const State& s, State& d, double) { model.rhs(s, d); };
    const StepObserver observe = [&grid](double a, double b, const Interpolator& at) -> std::optional<double> {
        grid.on_step(a, b, at);
        return std::nullopt;
    };

    const double cycle = cfg.protocol.cycle_s();
    Progress bar("network", cfg.cycles * cycle, "sim s", show_progress);
    double t = 0.0;
    try {
        for (long c = 0; c < cfg.cycles; ++c) {
            // Phase boundaries from the cycle index, not by accumulation, so they do not drift.
            const double t_on_end = c * cycle + cfg.protocol.t_on_s, t_cycle_end = (c + 1) * cycle;
            stim.on_phase(c, u, I);
            model.set_inputs(u, I);
            out.steps += integrate_segment(rhs, y, t, t_on_end, cfg.integrator, namer, observe).steps;
            t = t_on_end;
            record_block("stp", t, model.ps(y));
            stim.off_phase(u, I);
            model.set_inputs(u, I);
            out.steps += integrate_segment(rhs, y, t, t_cycle_end, cfg.integrator, namer, observe).steps;
            t = t_cycle_end;
            record_block("ltp", t, model.pl(y));
            out.ltp.push_back(model.pl(y).mean());
            bar.update(t);
            rec.flush();
            throw_if_stopped();  // a safe point: the cycle is recorded and flushed (core/interrupt.hpp)
        }
    } catch (const IntegrationError&) {
        rec.flush();
        throw;
    }
    bar.finish();
    out.t_end_s = t;
    rec.summary("steps", double(out.steps), "1");
    rec.summary("ltp_final", out.ltp.back(), "1");
    rec.flush();
    return out;
}

}  // namespace rmaat::sim
