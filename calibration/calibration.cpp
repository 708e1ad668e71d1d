#include "calibration/calibration.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <new>

#include <fmt/format.h>

#include "core/config_text.hpp"
#include "core/interrupt.hpp"
#include "core/log.hpp"
#include "core/progress.hpp"
#include "core/provenance.hpp"
#include "core/sha256.hpp"
#include "macro_model/retention.hpp"

namespace rmaat::calib {

sim::NetworkRunConfig default_ltp_experiment(int T_max) {
    sim::NetworkRunConfig c;
    c.geometry = sim::Geometry::grid(3, 3, 1.0);
    c.cycles = T_max;
    c.record_dt_s = 0.05;
    return c;
}

sim::NetworkRunConfig default_spatial_experiment() {
    sim::NetworkRunConfig c;
    c.geometry = sim::Geometry::line(1, 33, 1.0);
    c.protocol.kind = sim::Protocol::Kind::focal;
    c.cycles = 1;
    c.record_dt_s = 0.05;
    c.record_full = false;
    return c;
}

CalibrationConfig read_calibration_config(const ConfigSection& s, const std::string& config_dir) {
    CalibrationConfig c;
    c.T_max = static_cast<int>(s.get_int("T_max", c.T_max, Range::closed(2, 4096)));
    c.rf_source = s.get_string("rf_source", c.rf_source, {"fit", "increments"});
    c.ltp_models = s.get_string_array("ltp_models", c.ltp_models, macro::kLtpModels.names());
    if (c.ltp_models.empty()) throw s.error("ltp_models", "names no model");
    c.fit.loss = s.get_string("loss", c.fit.loss, macro::kLosses.names());
    c.fit.loss_scale = s.get_double("loss_scale", c.fit.loss_scale, Range::non_negative());
    c.fit.max_iterations = static_cast<int>(s.get_int("max_iterations", c.fit.max_iterations, Range::closed(1, 1e6)));
    c.rates_hz = s.get_double_array("rates_hz", c.rates_hz, Range::positive());
    if (c.rates_hz.size() < 3) throw s.error("rates_hz", "the alpha fit (a, alpha) needs at least 3 rates");
    if (s.has("alpha")) c.alpha_override = s.get_double("alpha", 0.25, Range::positive());
    if (s.has("scale")) c.scale_override = s.get_double("scale", 0.1, Range::positive());

    const sim::NetworkRunConfig ltp_d = default_ltp_experiment(c.T_max);
    c.ltp = sim::read_network_config(s.section("ltp"), config_dir, ltp_d);
    if (c.ltp.cycles < c.T_max)
        throw s.section("ltp").error(
            "cycles", fmt::format("{} cycles cannot give an LTP curve of T_max = {} cycles", c.ltp.cycles, c.T_max));
    c.spatial = sim::read_network_config(s.section("spatial"), config_dir, default_spatial_experiment());
    if (c.spatial.protocol.kind != sim::Protocol::Kind::focal)
        throw s.section("spatial").section("protocol").error("kind", "the spatial experiment needs the focal protocol");
    c.calcium = sim::read_calcium_config(s.section("calcium"));

    const ConfigSection in = s.section("inputs");
    auto path = [&](const std::string& p) {
        return p.empty() || p.front() == '/' || config_dir.empty() ? p : config_dir + "/" + p;
    };
    c.ltp_run = path(in.get_string("ltp_run", ""));
    c.spatial_run = path(in.get_string("spatial_run", ""));
    for (const auto& p : in.get_string_array("calcium_runs", {})) c.calcium_runs.push_back(path(p));
    // The sweep's steady means need the whole statistics window (checked here, not after the runs).
    if (c.calcium_runs.empty() && c.calcium.duration_s < c.calcium.stats_end_s)
        throw s.section("calcium").error(
            "duration_s", fmt::format("{} s ends before the statistics window [{}, {}] s: the steady means need all "
                                      "of it; raise duration_s or move stats_window_s",
                                      c.calcium.duration_s, c.calcium.stats_start_s, c.calcium.stats_end_s));
    return c;
}

namespace {

// The calcium sweep's costs: rest and every rate, summed (the runs are held in memory together).
std::vector<sim::Cost> sweep_costs(const CalibrationConfig& c) {
    std::vector<double> rates{0.0};
    rates.insert(rates.end(), c.rates_hz.begin(), c.rates_hz.end());
    std::vector<sim::Cost> total;
    for (const double rate : rates) {
        sim::CalciumRunConfig run = c.calcium;
        run.protocol.rate_hz = rate;
        if (rate == 0.0) run.protocol.spikes = "none";
        const auto costs = sim::calcium_costs(run);
        if (total.empty()) {
            total = costs;
            continue;
        }
        for (size_t i = 0; i < costs.size(); ++i) total[i].amount += costs[i].amount;
    }
    total = sim::with_prefix(std::move(total), "calcium.");  // knobs of [calibration.calcium] ...
    for (auto& cost : total) {
        cost.what = fmt::format("{}, summed over the sweep of {} runs", cost.what, rates.size());
        cost.knobs.push_back({"rates_hz", "shorten"});  // ... and of [calibration]
    }
    return total;
}

}  // namespace

void check_calibration_costs(const CalibrationConfig& c, const ConfigSection& s, const sim::Limits& limits) {
    const std::string where = "memory and the calibration file";
    if (c.ltp_run.empty()) sim::check_costs(sim::network_costs(c.ltp), s.section("ltp"), limits, where);
    if (c.spatial_run.empty()) sim::check_costs(sim::network_costs(c.spatial), s.section("spatial"), limits, where);
    if (c.calcium_runs.empty()) {
        sim::check_costs(sweep_costs(c), s, limits, where);
    }
}

namespace {

// The name of the calcium run at `rate` Hz in /calibration/sims and /calibration/inputs.
std::string calcium_name(double rate_hz) {
    return fmt::format("calcium_{:g}Hz", rate_hz);
}

// The most values read from one dataset of an input run file (256 MiB of doubles): a small file that
// declares a huge dataset is refused before anything is allocated.
constexpr hsize_t kMaxInputValues = hsize_t(1) << 25;

// An input run file: its path, digest, stored config and provenance attributes.
InputRecord file_input(const std::string& name, const std::string& path, const h5::Group& root) {
    InputRecord r;
    r.name = name;
    r.source = "file";
    r.path = path;
    r.sha256 = sha256_file(path);
    auto text = [&](const char* a) { return root.has_attr(a) ? root.attr_string(a) : std::string(); };
    r.config = text("config");
    r.git_commit = text("git_commit");
    r.created_utc = text("created_utc");
    r.command_line = text("command_line");
    if (root.has_attr("seed")) {
        const std::int64_t seed = root.attr_int("seed");
        if (seed < 0) throw h5::Error(fmt::format("{}: root attribute seed = {} must be >= 0", path, seed));
        r.seed = static_cast<std::uint64_t>(seed);
    }
    return r;
}

h5::Group need_group(const h5::Group& root, const std::string& group, const std::string& path, const char* what) {
    if (!root.has(group)) throw h5::Error(fmt::format("{}: no {} (not a {} run file)", path, "/" + group, what));
    return root.open_group(group);
}

// "[3]" or "[1][4]": the index of flat element i of an array of shape dims.
std::string index_text(size_t i, const std::vector<hsize_t>& dims) {
    std::string s;
    for (size_t d = dims.size(); d-- > 0;) {
        s = fmt::format("[{}]", i % dims[d]) + s;
        i /= dims[d];
    }
    return s;
}

// The first `count` values of `a` (all when count is npos) must be finite.
void require_finite(const h5::Array& a, const h5::Group& g, const std::string& name, const std::string& path,
                    size_t count = std::string::npos) {
    count = std::min(count, a.data.size());
    for (size_t i = 0; i < count; ++i)
        if (!std::isfinite(a.data[i]))
            throw h5::Error(
                fmt::format("{}: {}/{}{} = {} is not finite", path, g.path(), name, index_text(i, a.dims), a.data[i]));
}

// One finite value (a scalar dataset) of an input run file.
double read_finite_scalar(const h5::Group& g, const std::string& name, const std::string& path) {
    const double v = g.read_scalar(name);
    if (!std::isfinite(v)) throw h5::Error(fmt::format("{}: {}/{} = {} is not finite", path, g.path(), name, v));
    return v;
}

// The STP response `ps` of every synapse against its distance to the focus, in synapse spacings dx
// (the smallest distance from the focus). The focus itself is driven directly and left out: the
// spread is measured on the other synapses. `source` names where the positions come from.
void spatial_response(const Eigen::MatrixXd& positions, const Eigen::VectorXd& ps, long focus, Measurements& m,
                      const std::string& source = "the spatial experiment") {
    const Eigen::VectorXd dist = (positions.rowwise() - positions.row(focus)).rowwise().norm();
    double dx = INFINITY;
    for (long k = 0; k < dist.size(); ++k)
        if (k != focus) dx = std::min(dx, dist[k]);
    if (!(dx > 0 && std::isfinite(dx)))
        throw h5::Error(
            fmt::format("{}: positions: another synapse lies at the focal synapse {} (distance {}): the "
                        "decay with distance cannot be measured",
                        source, focus, dx));
    m.dx_um = dx;
    m.distance_dx.clear();
    m.response.clear();
    for (long k = 0; k < dist.size(); ++k) {
        if (k == focus) continue;
        m.distance_dx.push_back(dist[k] / dx);
        m.response.push_back(ps[k]);
    }
}

void read_ltp_run(const std::string& path, int T_max, Measurements& m) {
    const h5::File f = h5::File::open_read(path);
    const h5::Group root = f.root();
    const h5::Group g = need_group(root, "sim/network/ltp", path, "network");
    const h5::Array p = g.read("pl_mean", 1, kMaxInputValues);
    if (static_cast<long>(p.data.size()) < T_max + 1)
        throw h5::Error(fmt::format("{}: the LTP curve has {} cycles; T_max = {} needs {}", path,
                                    static_cast<long>(p.data.size()) - 1, T_max, T_max));
    require_finite(p, g, "pl_mean", path, static_cast<size_t>(T_max) + 1);
    m.ltp.assign(p.data.begin(), p.data.begin() + T_max + 1);
    m.inputs.push_back(file_input("ltp", path, root));
}

void read_spatial_run(const std::string& path, Measurements& m) {
    const h5::File f = h5::File::open_read(path);
    const h5::Group root = f.root();
    const h5::Group net = need_group(root, "sim/network", path, "network");
    const h5::Group stp = need_group(root, "sim/network/stp", path, "network");
    const h5::Group summary = need_group(root, "sim/network/summary", path, "network");
    if (!summary.has("focal_index"))
        throw h5::Error(fmt::format("{}: no summary/focal_index: not a focal-protocol network run", path));
    const double focal = read_finite_scalar(summary, "focal_index", path);
    const h5::Array ps = stp.read("ps", 2, kMaxInputValues);
    if (ps.dims[0] < 1 || ps.dims[1] < 3)
        throw h5::Error(
            fmt::format("{}: /sim/network/stp/ps has shape [{} x {}]: needs an on phase (a row) of at "
                        "least 3 synapses (the focus and two others)",
                        path, ps.dims[0], ps.dims[1]));
    const long n = static_cast<long>(ps.dims[1]);
    if (focal != std::floor(focal) || focal < 0 || focal >= double(n))
        throw h5::Error(fmt::format("{}: /sim/network/summary/focal_index = {} is not a synapse index in [0, {}]", path,
                                    focal, n - 1));
    const long focus = static_cast<long>(focal);
    require_finite(ps, stp, "ps", path, static_cast<size_t>(n));  // the first on phase is used
    const h5::Array pos = net.read("positions", 2, kMaxInputValues);
    if (static_cast<long>(pos.dims[0]) != n || pos.dims[1] != 2)
        throw h5::Error(
            fmt::format("{}: /sim/network/positions has shape [{} x {}], expected [{} x 2] (x, y of the {} "
                        "synapses of stp/ps)",
                        path, pos.dims[0], pos.dims[1], n, n));
    require_finite(pos, net, "positions", path);
    Eigen::MatrixXd positions(n, 2);
    for (long k = 0; k < n; ++k) positions.row(k) << pos.data[2 * k], pos.data[2 * k + 1];
    spatial_response(positions, Eigen::Map<const Eigen::VectorXd>(ps.data.data(), n), focus, m, path);
    m.inputs.push_back(file_input("spatial", path, root));
}

// One calcium run file as the calibration reads it.
struct CalciumInput {
    std::string path;
    double rate_hz = 0, mean_ca_uM = 0;
    std::map<std::string, std::string> settings;  // its [calcium] table, flattened ("calcium.params.O_P" -> "0.9")
};

CalciumInput read_calcium_input(const std::string& path, const h5::Group& root) {
    CalciumInput in;
    in.path = path;
    const h5::Group s = need_group(root, "sim/calcium/summary", path, "calcium");
    if (!s.has("rate_hz") || !s.has("mean_ca"))
        throw h5::Error(fmt::format("{}: /sim/calcium/summary lacks rate_hz or mean_ca", path));
    in.rate_hz = read_finite_scalar(s, "rate_hz", path);
    if (in.rate_hz < 0)
        throw h5::Error(fmt::format("{}: /sim/calcium/summary/rate_hz = {} must be >= 0", path, in.rate_hz));
    in.mean_ca_uM = s.read_scalar("mean_ca");
    if (!std::isfinite(in.mean_ca_uM))
        throw h5::Error(fmt::format("{}: no steady mean Ca (the run is shorter than its stats window)", path));
    if (!root.has_attr("config"))
        throw h5::Error(
            fmt::format("{}: no root attribute config (the resolved config of the run): cannot check "
                        "that it matches the other calcium runs",
                        path));
    in.settings = config_text::flatten(root.attr_string("config"), "calcium", path + ": root attribute config");
    return in;
}

// Settings the runs of one sweep may differ in: the input rate; the spike kind and seed (compared among the
// spiking runs only: the rest run has no spikes); the recording grid (the steady statistics come from the
// exact integral of Ca, not from the grid).
bool may_differ(const std::string& key) {
    for (const char* k : {"calcium.input.rate_hz", "calcium.input.spikes", "calcium.input.seed", "calcium.record_dt_s"})
        if (key == k) return true;
    return false;
}

// The first key (in key order) whose value differs between a and b, among the keys `compared` accepts.
template <typename Pred>
void require_same(const CalciumInput& a, const CalciumInput& b, Pred compared) {
    std::map<std::string, std::string> keys = a.settings;
    keys.insert(b.settings.begin(), b.settings.end());
    for (const auto& [key, unused] : keys) {
        if (!compared(key)) continue;
        const auto ia = a.settings.find(key), ib = b.settings.find(key);
        const std::string va = ia == a.settings.end() ? "(absent)" : ia->second;
        const std::string vb = ib == b.settings.end() ? "(absent)" : ib->second;
        if (va != vb)
            throw h5::Error(
                fmt::format("{}: {} = {}, but {} has {}: the calcium runs of a calibration may differ "
                            "only in the input rate",
                            b.path, key, vb, a.path, va));
    }
}

// Refuses a sweep whose runs differ in anything but the input rate (docs/design.md section 4), or repeat a rate.
void check_consistent(const std::vector<CalciumInput>& runs) {
    for (size_t i = 0; i < runs.size(); ++i)
        for (size_t j = i + 1; j < runs.size(); ++j)
            if (runs[i].rate_hz == runs[j].rate_hz)
                throw h5::Error(
                    fmt::format("calcium_runs: {} and {} are both at {} Hz: each rate, and the rest state "
                                "(0 Hz), must appear once",
                                runs[i].path, runs[j].path, runs[i].rate_hz));
    for (size_t i = 1; i < runs.size(); ++i)
        require_same(runs[0], runs[i], [](const std::string& k) { return !may_differ(k); });
    const CalciumInput* spiking = nullptr;
    for (const auto& r : runs) {
        if (r.rate_hz == 0) continue;
        if (!spiking) {
            spiking = &r;
            continue;
        }
        require_same(*spiking, r, [&](const std::string& k) {
            return k == "calcium.input.spikes" ||
                   (k == "calcium.input.seed" && r.settings.count("calcium.input.spikes") &&
                    r.settings.at("calcium.input.spikes") == "\"poisson\"");
        });
    }
}

void read_calcium_runs(const std::vector<std::string>& paths, Measurements& m) {
    std::vector<CalciumInput> runs;
    std::vector<InputRecord> records;
    for (const auto& path : paths) {
        const h5::File f = h5::File::open_read(path);
        runs.push_back(read_calcium_input(path, f.root()));
        records.push_back(file_input(calcium_name(runs.back().rate_hz), path, f.root()));
    }
    check_consistent(runs);
    bool have_rest = false;
    for (size_t i = 0; i < runs.size(); ++i) {
        if (runs[i].rate_hz == 0.0) {
            m.ca_rest_uM = runs[i].mean_ca_uM;
            have_rest = true;
        } else {
            m.rates_hz.push_back(runs[i].rate_hz);
            m.mean_ca_uM.push_back(runs[i].mean_ca_uM);
        }
        m.inputs.push_back(records[i]);
    }
    if (!have_rest) throw h5::Error("calcium_runs: none of the runs is at rest (rate 0): Ca_rest is needed for alpha");
    if (m.rates_hz.size() < 3) throw h5::Error("calcium_runs: the alpha fit needs runs at 3 or more non-zero rates");
}

void spatial_from_record(const sim::MemoryRecorder& rec, Measurements& m) {
    const Eigen::MatrixXd ps = rec.column("stp", "ps");
    spatial_response(rec.array_value("positions"), ps.row(0).transpose(),
                     static_cast<long>(rec.summary_value("focal_index")), m);
}

}  // namespace

namespace {

// A simulation run by the calibration: its table of the calibration config, re-rooted as the table
// `rmaat simulate` reads ([network] or [calcium]), with `overrides` (the sweep's rate) applied.
InputRecord simulated_input(const std::string& name, const CalibrationConfig& cfg, const std::string& table,
                            const std::string& as, std::uint64_t seed,
                            const std::vector<config_text::Override>& overrides = {}) {
    InputRecord r;
    r.name = name;
    r.source = "simulated";
    r.seed = seed;
    if (!cfg.resolved_config.empty())
        r.config = config_text::cut_table(cfg.resolved_config, table, as, overrides, "calibration config");
    return r;
}

// Runs one of the calibration's own simulations. No run file records it, so a failure names it: an
// IntegrationError with the simulation's name and table, or a RunError when it runs out of memory.
template <typename Body>
void run_named(const std::string& name, const std::string& table, const std::string& memory_advice, Body&& body) {
    try {
        body();
    } catch (const sim::IntegrationError& e) {
        throw sim::IntegrationError(fmt::format("calibration simulation '{}' ([{}]) failed: {}; no calibration "
                                                "file was written",
                                                name, table, e.what()),
                                    e.time_s, e.variable);
    } catch (const std::bad_alloc&) {
        throw RunError(
            fmt::format("calibration simulation '{}' ([{}]) ran out of memory: {} in [{}]; no calibration "
                        "file was written",
                        name, table, memory_advice, table));
    }
}

void simulate_ltp(const CalibrationConfig& cfg, bool show_progress, Measurements& m) {
    log::info("calibration: LTP experiment ({} cycles, {}x{} {})", cfg.ltp.cycles, cfg.ltp.geometry.n_pre,
              cfg.ltp.geometry.n_post, sim::Geometry::name(cfg.ltp.geometry.kind));
    sim::MemoryRecorder rec;
    sim::NetworkSummary out;
    run_named("ltp", "calibration.ltp", sim::network_memory_advice(cfg.ltp),
              [&] { out = sim::run_network(cfg.ltp, rec, show_progress); });
    m.ltp.assign(out.ltp.begin(), out.ltp.begin() + cfg.T_max + 1);
    m.sims.emplace_back("ltp", std::move(rec));
    m.inputs.push_back(simulated_input("ltp", cfg, "calibration.ltp", "network", cfg.ltp.protocol.seed));
}

void simulate_spatial(const CalibrationConfig& cfg, Measurements& m) {
    log::info("calibration: spatial STP experiment (focal drive on a {}-synapse {})", cfg.spatial.geometry.n_syn(),
              sim::Geometry::name(cfg.spatial.geometry.kind));
    sim::MemoryRecorder rec;
    run_named("spatial", "calibration.spatial", sim::network_memory_advice(cfg.spatial),
              [&] { sim::run_network(cfg.spatial, rec, false); });
    spatial_from_record(rec, m);
    m.sims.emplace_back("spatial", std::move(rec));
    m.inputs.push_back(simulated_input("spatial", cfg, "calibration.spatial", "network", cfg.spatial.protocol.seed));
}

void simulate_calcium_sweep(const CalibrationConfig& cfg, bool show_progress, Measurements& m) {
    std::vector<double> rates{0.0};
    rates.insert(rates.end(), cfg.rates_hz.begin(), cfg.rates_hz.end());
    Progress bar("calcium sweep", double(rates.size()), "runs", show_progress);
    log::info("calibration: calcium model at rest and {} rates, {} s each", cfg.rates_hz.size(),
              cfg.calcium.duration_s);
    for (size_t i = 0; i < rates.size(); ++i) {
        sim::CalciumRunConfig c = cfg.calcium;
        c.protocol.rate_hz = rates[i];
        if (rates[i] == 0.0) c.protocol.spikes = "none";
        sim::MemoryRecorder rec;
        sim::CalciumSummary s{};
        run_named(calcium_name(rates[i]), "calibration.calcium", sim::calcium_memory_advice(),
                  [&] { s = sim::run_calcium(c, rec, false); });
        if (!std::isfinite(s.mean_ca_uM))
            throw ConfigError(fmt::format("calibration.calcium.duration_s = {} ends before the stats window ({} s)",
                                          cfg.calcium.duration_s, cfg.calcium.stats_end_s));
        if (rates[i] == 0.0) {
            m.ca_rest_uM = s.mean_ca_uM;
        } else {
            m.rates_hz.push_back(rates[i]);
            m.mean_ca_uM.push_back(s.mean_ca_uM);
        }
        m.sims.emplace_back(calcium_name(rates[i]), std::move(rec));
        std::vector<config_text::Override> sweep = {{"input.rate_hz", rates[i]}};
        if (rates[i] == 0.0) sweep.push_back({"input.spikes", std::string("none")});
        m.inputs.push_back(
            simulated_input(calcium_name(rates[i]), cfg, "calibration.calcium", "calcium", c.protocol.seed, sweep));
        bar.update(double(i + 1));
    }
    bar.finish();
}

}  // namespace

Measurements measure(const CalibrationConfig& cfg, bool show_progress) {
    Measurements m;
    // Input files first: a bad or inconsistent file fails before any simulation starts.
    if (!cfg.ltp_run.empty()) read_ltp_run(cfg.ltp_run, cfg.T_max, m);
    if (!cfg.spatial_run.empty()) read_spatial_run(cfg.spatial_run, m);
    if (!cfg.calcium_runs.empty()) read_calcium_runs(cfg.calcium_runs, m);
    if (cfg.ltp_run.empty()) simulate_ltp(cfg, show_progress, m);
    if (cfg.spatial_run.empty()) simulate_spatial(cfg, m);
    if (cfg.calcium_runs.empty()) simulate_calcium_sweep(cfg, show_progress, m);
    return m;
}

Calibration fit_calibration(const CalibrationConfig& cfg, Measurements data) {
    Calibration c;
    c.T_max = cfg.T_max;
    c.rf_source = cfg.rf_source;
    // A fit that did not converge must not end up in a calibration.
    auto require_converged = [](const macro::FitResult& f, const char* what) {
        if (!f.converged)
            throw macro::FitError(fmt::format("the {} fit ({}) did not converge: {}", what, f.model, f.message));
    };
    c.ltp_fits = macro::fit_ltp_models(data.ltp, cfg.ltp_models, cfg.fit);
    const macro::FitResult& best = c.ltp_fits.fits.at(c.ltp_fits.best);
    require_converged(best, "LTP curve");
    c.rf = cfg.rf_source == "fit" ? macro::rf_table_from_curve(best, cfg.T_max)
                                  : macro::rf_table_from_increments(data.ltp, cfg.T_max);

    c.decay_fit = macro::fit_decay(data.distance_dx, data.response, cfg.fit);
    require_converged(c.decay_fit, "spatial decay");
    c.lambda_eff_dx = c.decay_fit.param("lambda");
    // One token step is one synapse spacing along the line: scale = dx / lambda_eff.
    c.scale = cfg.scale_override.value_or(1.0 / c.lambda_eff_dx);
    c.scale_source = cfg.scale_override ? "config" : "fit";

    c.power_fit = macro::fit_power(data.rates_hz, data.mean_ca_uM, data.ca_rest_uM, cfg.fit);
    require_converged(c.power_fit, "calcium power-law");
    c.alpha = cfg.alpha_override.value_or(c.power_fit.param("alpha"));
    c.alpha_source = cfg.alpha_override ? "config" : "fit";
    c.data = std::move(data);

    for (const auto& [f, what] :
         {std::pair{&best, "LTP curve"}, {&c.decay_fit, "spatial decay"}, {&c.power_fit, "calcium power-law"}})
        for (auto& w : fit_warnings(*f, what)) c.warnings.push_back(std::move(w));
    for (const auto& w : c.warnings) log::warn("calibration: {}", w);
    return c;
}

std::vector<std::string> fit_warnings(const macro::FitResult& f, const std::string& what) {
    std::vector<std::string> w;
    const std::string fit = fmt::format("{} fit ({})", what, f.model);
    if (f.degenerate) {
        w.push_back(fit + " is degenerate: its covariance is not estimable (the data do not identify its parameters)");
    } else {
        for (size_t i = 0; i < f.names.size() && static_cast<long>(i) < f.params.size(); ++i) {
            const bool fixed = i < f.fixed.size() && f.fixed[i];
            if (!fixed && f.std_errors[i] > std::abs(f.params[i]))
                w.push_back(fmt::format("{}: {} = {:.4g} +- {:.2g}: the standard error exceeds the value", fit,
                                        f.names[i], f.params[i], f.std_errors[i]));
        }
    }
    if (f.r2 < kPoorR2)
        w.push_back(fmt::format("{}: R^2 = {:.3g} < {}: the model describes the data poorly", fit, f.r2, kPoorR2));
    return w;
}

namespace {

std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + v[i];
    return s;
}

std::string join_lines(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& line : v) s += line + "\n";
    return s;
}

// How the summary marks a fit besides its status: chosen, or not eligible (not a usable fit).
const char* fit_note(const macro::FitResult& f, bool chosen) {
    return chosen ? "  <- chosen" : f.usable() ? "" : "  (not eligible)";
}

// A fit: attributes (model, formula, names, status, quality), each parameter as a scalar dataset
// parameters/<name> with its units and standard error, and the vectors params and std_errors and the
// covariance matrix in the order of `names` (their units attribute lists the units in that order).
void write_fit(const h5::Group& g, const macro::FitResult& f, const std::string& x_unit, const std::string& y_unit) {
    const long k = static_cast<long>(f.params.size());
    g.attr("model", f.model);
    g.attr("formula", f.formula);
    g.attr("names", join(f.names));
    g.attr("x_units", x_unit);
    g.attr("y_units", y_unit);
    g.attr("message", f.message);
    // status: converged | degenerate | not converged | failed; `converged` is 1 for "converged" only.
    g.attr("status", std::string(f.status()));
    g.attr("converged", static_cast<std::int64_t>(f.usable()));
    if (k == 0) return;  // the fit itself failed (message says why): no numbers to store
    const std::vector<std::string> units = macro::model_units(f.model, x_unit, y_unit);
    const h5::Group params = g.group("parameters");
    for (long i = 0; i < k; ++i) {
        params.write(f.names[i], std::vector<double>{f.params[i]}, {}, units[i]);
        params.dataset_attr(f.names[i], "std_error", f.std_errors[i]);
        params.dataset_attr(f.names[i], "fixed", i < static_cast<long>(f.fixed.size()) && f.fixed[i] ? "yes" : "no");
    }
    g.write("params", std::vector<double>(f.params.data(), f.params.data() + k), {hsize_t(k)}, join(units));
    g.write("std_errors", std::vector<double>(f.std_errors.data(), f.std_errors.data() + k), {hsize_t(k)}, join(units));
    std::vector<double> cov(k * k);
    for (long r = 0; r < k; ++r)
        for (long col = 0; col < k; ++col) cov[r * k + col] = f.covariance(r, col);
    g.write("covariance", cov, {hsize_t(k), hsize_t(k)}, "product of the units of row and column parameter");
    g.attr("n", static_cast<std::int64_t>(f.n));
    g.attr("rss", f.rss);
    g.attr("rmse", f.rmse);
    g.attr("r2", f.r2);
    g.attr("aic", f.aic);
}

// The RF table with its axis convention (macro_model/retention.hpp).
void write_rf(const h5::Group& g, const Eigen::MatrixXd& table) {
    const int n = static_cast<int>(table.rows());
    std::vector<double> rf(n * n);
    for (int T = 0; T < n; ++T)
        for (int t = 0; t < n; ++t) rf[T * n + t] = table(T, t);
    g.write("rf", rf, {hsize_t(n), hsize_t(n)}, "1");
    g.dataset_attr("rf", "definition", "RF(t, T) = dp_t / sum_{i=1..T} dp_i, dp_t = p(t) - p(t-1)");
    g.dataset_attr("rf", "row_index", "T - 1, T = number of segments (1..T_max)");
    g.dataset_attr("rf", "column_index", "t - 1, t = segment (1..T_max)");
    g.dataset_attr("rf", "valid", "t <= T; entries with t > T are 0");
    g.dataset_attr("rf", "rows", "every row sums to 1 over t = 1..T");
}

void write_input(const h5::Group& g, const InputRecord& in) {
    g.attr("source", in.source);
    g.attr("config", in.config);
    g.attr("seed", static_cast<std::int64_t>(in.seed));
    if (in.source != "file") return;
    g.attr("path", in.path);
    g.attr("sha256", in.sha256);
    g.attr("git_commit", in.git_commit);
    g.attr("created_utc", in.created_utc);
    g.attr("command_line", in.command_line);
}

void write_vec(const h5::Group& g, const std::string& name, const std::vector<double>& v, const std::string& units) {
    g.write(name, v, {hsize_t(v.size())}, units);
}

}  // namespace

void write_calibration(const h5::Group& root, const Calibration& c) {
    const h5::Group g = root.group("calibration");
    g.attr("format", std::string("rmaat-calibration"));
    g.attr("format_version", static_cast<std::int64_t>(2));
    g.attr("T_max", static_cast<std::int64_t>(c.T_max));
    g.attr("rf_source", c.rf_source);
    g.attr("scale_source", c.scale_source);
    g.attr("alpha_source", c.alpha_source);
    g.attr("summary", summary_text(c));
    g.attr("warnings", join_lines(c.warnings));
    write_rf(g, c.rf);
    g.write("scale", std::vector<double>{c.scale}, {}, "1 per token");
    g.write("alpha", std::vector<double>{c.alpha}, {}, "1");

    const h5::Group ltp = g.group("ltp");
    write_vec(ltp, "p", c.data.ltp, "1");
    ltp.attr("best_model", c.ltp_fits.fits.at(c.ltp_fits.best).model);
    for (const auto& f : c.ltp_fits.fits) write_fit(ltp.group("fits/" + f.model), f, "cycles", "1");

    const h5::Group sp = g.group("spatial");
    write_vec(sp, "distance", c.data.distance_dx, "dx");
    write_vec(sp, "response", c.data.response, "1");
    sp.attr("dx_um", c.data.dx_um);
    sp.attr("lambda_eff_dx", c.lambda_eff_dx);
    write_fit(sp.group("fit"), c.decay_fit, "dx", "1");

    const h5::Group ca = g.group("calcium");
    write_vec(ca, "rate", c.data.rates_hz, "Hz");
    write_vec(ca, "mean_ca", c.data.mean_ca_uM, "uM");
    ca.write("ca_rest", std::vector<double>{c.data.ca_rest_uM}, {}, "uM");
    write_fit(ca.group("fit"), c.power_fit, "Hz", "uM");

    const h5::Group inputs = g.group("inputs");
    for (const auto& in : c.data.inputs) write_input(inputs.group(in.name), in);
    for (const auto& [name, rec] : c.data.sims) {
        sim::H5Recorder out(g.group("sims/" + name));
        rec.replay(out);
    }
}

std::string summary_text(const Calibration& c) {
    const auto& best = c.ltp_fits.fits.at(c.ltp_fits.best);
    std::string s = fmt::format("rmaat calibration (T_max = {}, RF from the {})\n", c.T_max,
                                c.rf_source == "fit" ? "fitted LTP curve" : "raw LTP increments");
    s += "LTP curve fits (AIC, lower is better):\n";
    for (const auto& f : c.ltp_fits.fits) {
        if (f.params.size() == 0) {
            s += fmt::format("  {:5} {}  fit failed: {}\n", f.model, f.formula, f.message);
            continue;
        }
        s += fmt::format("  {:5} {}  AIC {:9.2f}  R^2 {:.6f}  [{}]{}\n", f.model, f.formula, f.aic, f.r2, f.status(),
                         fit_note(f, &f == &best));
        for (size_t i = 0; i < f.names.size(); ++i)
            s += fmt::format("        {} = {:.6g} +- {:.2g}\n", f.names[i], f.params[i], f.std_errors[i]);
    }
    const int T = std::min(16, c.T_max);
    s += fmt::format("RF(1..3, T={}) = {:.4f}, {:.4f}, {:.4f}; RF({},{}) = {:.4f}\n", T, c.rf(T - 1, 0), c.rf(T - 1, 1),
                     c.rf(T - 1, 2), T, T, c.rf(T - 1, T - 1));
    s += fmt::format("spatial decay: lambda_eff = {:.4g} +- {:.2g} dx (R^2 {:.4f}); scale = {:.4g} per token ({})\n",
                     c.lambda_eff_dx, c.decay_fit.std_errors[1], c.decay_fit.r2, c.scale, c.scale_source);
    s += fmt::format(
        "calcium: Ca_rest = {:.4f} uM; Ca(f) - Ca_rest = a f^alpha: alpha = {:.4g} +- {:.2g} (R^2 {:.3f}); "
        "alpha = {:.4g} ({})\n",
        c.data.ca_rest_uM, c.power_fit.param("alpha"), c.power_fit.std_errors[c.power_fit.names.size() - 1],
        c.power_fit.r2, c.alpha, c.alpha_source);
    for (const auto* f : {&c.decay_fit, &c.power_fit})
        if (f->degenerate) s += fmt::format("the {} fit is degenerate (covariance not estimable)\n", f->model);
    for (const auto& w : c.warnings) s += "warning: " + w + "\n";
    return s;
}

std::string summary_path(const std::string& out_path) {
    const bool h5 = out_path.size() > 3 && out_path.compare(out_path.size() - 3, 3, ".h5") == 0;
    return (h5 ? out_path.substr(0, out_path.size() - 3) : out_path) + ".summary.txt";
}

namespace {

// The [calibration] table read and checked (keys, values, costs), before anything runs.
CalibrationConfig read_checked(const Config& cfg, const std::string& config_dir, const sim::Limits& limits) {
    const ConfigSection root = cfg.root();
    root.section("run").get_int("seed", 1, Range::non_negative());
    const ConfigSection s = root.section("calibration");
    CalibrationConfig cc = read_calibration_config(s, config_dir);
    for (const char* other : {"run", "network", "calcium", "model", "train", "data"})
        cfg.ignore_section(other);  // `rmaat simulate` and `rmaat train` check these
    cfg.check_all_used();
    check_calibration_costs(cc, s, limits);
    cc.resolved_config = cfg.resolved_text();
    return cc;
}

}  // namespace

void check_calibration(const Config& cfg, const std::string& config_dir, const sim::Limits& limits) {
    const CalibrationConfig cc = read_checked(cfg, config_dir, limits);
    // Input run files: present and HDF5 (their contents are checked before the calibration simulates).
    std::vector<std::string> inputs = cc.calcium_runs;
    for (const auto* p : {&cc.ltp_run, &cc.spatial_run})
        if (!p->empty()) inputs.push_back(*p);
    for (const auto& p : inputs) h5::File::open_read(p);
}

Calibration calibrate_to_file(const Config& cfg, const std::string& config_dir, const std::string& out_path,
                              bool show_progress, Replace replace, const sim::Limits& limits) {
    const CalibrationConfig cc = read_checked(cfg, config_dir, limits);
    const auto seed = static_cast<std::uint64_t>(cfg.root().section("run").get_int("seed", 1, Range::non_negative()));

    // Everything is simulated and fitted in memory first: a failure leaves no file behind.
    Calibration c = fit_calibration(cc, measure(cc, show_progress));
    if (stop_signal())
        throw Interrupted(stop_signal(),
                          fmt::format("interrupted by {}: no calibration written", signal_name(stop_signal())));
    const std::string text = summary_text(c);
    h5::File file = h5::File::create(out_path, replace);
    try {
        const h5::Group top = file.root();
        write_provenance(top, cfg.resolved_text(), seed);
        write_calibration(top, c);
        top.attr("status", std::string("complete"));
        file.flush();
        // Both outputs are complete under their working names before either is published.
        TextOutput summary(summary_path(out_path), text);
        file.commit();
        summary.commit(replace);
    } catch (...) {
        file.discard();
        throw;
    }
    return c;
}

}  // namespace rmaat::calib
