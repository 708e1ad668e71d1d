#pragma once
// The calibration step (docs/design.md section 4): run the simulations the macro model needs, or read them from run
// files, fit them and produce the three quantities the transformer uses:
//   RF(t, T)  retention factors from the LTP curve (T_max x T_max table),
//   scale     position-decay scale dx / lambda_eff from the spatial STP response on a line,
//   alpha     calcium exponent from Ca(f) - Ca_rest = a f^alpha.
//
// Config: table [calibration] with T_max, rf_source ("fit" | "increments"), ltp_models, loss,
// loss_scale, rates_hz, optional overrides alpha and scale; subtables [calibration.ltp] and
// [calibration.spatial] (network tables, see [network]), [calibration.calcium] (a calcium table; its
// input rate is replaced by each rate of the sweep) and [calibration.inputs] (ltp_run, spatial_run,
// calcium_runs: existing run files to calibrate from instead of simulating).
//
// Input run files are read and checked before anything is simulated. Calcium runs must form one sweep
// (docs/design.md section 4): their stored configs (root attribute `config`) must agree in every [calcium]
// setting (parameters, duration, statistics window, integrator, spike onset) except the input rate, the
// spike kind and seed of the rest run, and the recording grid; each rate, and the rest state, appears
// once. Otherwise h5::Error (an InputError: exit 2) names the file, the key and both values.
#include <Eigen/Core>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/h5_store.hpp"
#include "macro_model/decay_fit.hpp"
#include "macro_model/fit.hpp"
#include "macro_model/ltp_models.hpp"
#include "macro_model/power_fit.hpp"
#include "sim/calcium/calcium_model.hpp"
#include "sim/limits.hpp"
#include "sim/network/network_model.hpp"
#include "sim/recorder.hpp"

namespace rmaat::calib {

struct CalibrationConfig {
    int T_max = 64;
    std::string rf_source = "fit";  // RF from the fitted curve (smooth) or the raw increments
    std::vector<std::string> ltp_models = macro::kLtpModels.names();  // candidates, chosen by AIC
    macro::FitOptions fit;
    std::vector<double> rates_hz{1, 2, 3, 5, 7, 10};  // calcium sweep; rest (0 Hz) is always run
    std::optional<double> alpha_override, scale_override;
    sim::NetworkRunConfig ltp, spatial;
    sim::CalciumRunConfig calcium;
    // Existing run files to read instead of simulating (empty: simulate).
    std::string ltp_run, spatial_run;
    std::vector<std::string> calcium_runs;
    // The resolved config text the tables above were read from (Config::resolved_text()), for the provenance
    // of the simulations the calibration runs (InputRecord::config); calibrate_to_file() sets it.
    std::string resolved_config;
};

// Defaults of the two network experiments: LTP on a 3x3 grid, fixed protocol, T_max cycles; the
// spatial response on a line of 33 synapses driven at the middle one, one cycle.
sim::NetworkRunConfig default_ltp_experiment(int T_max);
sim::NetworkRunConfig default_spatial_experiment();

CalibrationConfig read_calibration_config(const ConfigSection& calibration, const std::string& config_dir);
// The work and memory of the simulations the calibration would run (sim/limits.hpp): the LTP and
// spatial experiments, and the calcium sweep summed over its runs (held in memory together). Throws
// ConfigError naming the key to change, unless limits allow large runs.
void check_calibration_costs(const CalibrationConfig& cfg, const ConfigSection& calibration, const sim::Limits& limits);

// Where one input of a calibration came from: /calibration/inputs/<name>.
struct InputRecord {
    std::string name;    // "ltp", "spatial", "calcium_<f>Hz" (as /calibration/sims/<name> when simulated)
    std::string source;  // "file" (an input run file) or "simulated" (run by this calibration)
    // The simulation's resolved config (TOML) that `rmaat simulate` reruns: a file's root attribute
    // `config`; for a simulation, its table of the calibration config as a [network] or [calcium] table,
    // with the sweep's input rate filled in ("" when CalibrationConfig::resolved_config was not given).
    std::string config;
    // A file's root `seed` ([run] seed); for a simulation, the seed of its stochastic input
    // ([network.protocol] seed or [calcium.input] seed: the random patterns and Poisson spikes).
    std::uint64_t seed = 0;
    std::string path, sha256, git_commit, created_utc, command_line;  // files only
};

// Measurements the fits use, with the simulations that produced them (when simulated).
struct Measurements {
    std::vector<double> ltp;                    // p(0..T_max)
    std::vector<double> distance_dx, response;  // spatial STP response vs distance to the focus (in dx)
    double dx_um = 1.0;
    std::vector<double> rates_hz, mean_ca_uM;  // sweep, without the rest run
    double ca_rest_uM = 0.0;
    std::vector<std::pair<std::string, sim::MemoryRecorder>> sims;  // name -> record
    std::vector<InputRecord> inputs;                                // where each input came from
};

struct Calibration {
    int T_max = 0;
    std::string rf_source;
    Eigen::MatrixXd rf;  // [T_max x T_max]; row T-1 holds RF(1..T, T), zeros beyond t = T
    macro::LtpSelection ltp_fits;
    macro::FitResult decay_fit, power_fit;
    double lambda_eff_dx = 0, scale = 0, alpha = 0;
    std::string scale_source, alpha_source;  // "fit" or "config"
    Measurements data;
    std::vector<std::string> warnings;  // fit-quality warnings (fit_warnings) of the fits used
};

// Fit quality (docs/design.md section 4). The fits a calibration uses (the chosen LTP curve, the spatial
// decay, the calcium power law) are checked, and each finding is a warning in the log and in the summary
// (and the /calibration attribute `warnings`); the calibration is still written:
//   - degenerate: the covariance is not estimable (a free parameter's standard error is NaN);
//   - a free parameter whose standard error exceeds the magnitude of its value (not determined by the data);
//   - R^2 below kPoorR2: the model describes the data poorly. 0.9 sits just below the 0.91 an
//     independent power-law fit of the reference calcium sweep gives (a known, poorly conditioned fit,
//     reported but accepted); a smooth LTP curve or spatial profile fits with R^2 > 0.999.
inline constexpr double kPoorR2 = 0.9;
// The warnings of one fit, each starting "<what> fit (<model>)".
std::vector<std::string> fit_warnings(const macro::FitResult& fit, const std::string& what);

// Reads (and checks) the input run files, simulates the rest, and fits. Throws macro::FitError, ConfigError,
// h5::Error (unreadable or inconsistent input files), IntegrationError.
Measurements measure(const CalibrationConfig& cfg, bool show_progress);
Calibration fit_calibration(const CalibrationConfig& cfg, Measurements data);

// Writes the /calibration group (format_version 2; docs/design.md sections 4 and 7):
//   attrs            format, format_version, T_max, rf_source, scale_source, alpha_source, summary, warnings
//   rf               [T_max, T_max], attrs definition, row_index (T - 1), column_index (t - 1), valid (t <= T),
//                    rows (each sums to 1)
//   scale, alpha     the values the trainer uses
//   ltp/p, ltp/fits/<model>, spatial/{distance, response, fit}, calcium/{rate, mean_ca, ca_rest, fit}
//     a fit:         attrs model, formula, names, x_units, y_units, status, converged, message, n, rss, rmse,
//                    r2, aic; parameters/<name> (scalar, units, attrs std_error, fixed); params, std_errors,
//                    covariance in the order of names
//   inputs/<name>    one per input (InputRecord): source, config, seed; for files path, sha256, git_commit,
//                    created_utc, command_line
//   sims/<name>      the simulations run for this calibration (same layout as /sim/<model>)
void write_calibration(const h5::Group& root, const Calibration& c);
std::string summary_text(const Calibration& c);

// "<out_path without .h5>.summary.txt": where calibrate_to_file() puts the summary.
std::string summary_path(const std::string& out_path);

// The whole step into a file: nothing is left under out_path, summary_path(out_path) or their working
// names on error (a WriteError names the file and the reason). Both are written completely under working
// names of their own before either is published; `replace` says whether files that appeared under their
// names meanwhile are replaced (the CLI passes Replace::no unless --force, after refusing existing ones).
// The config is read and checked (keys, values, the costs against `limits`) before anything runs; a
// simulation of its own that fails is named (IntegrationError, or RunError when out of memory).
Calibration calibrate_to_file(const Config& cfg, const std::string& config_dir, const std::string& out_path,
                              bool show_progress, Replace replace = Replace::yes, const sim::Limits& limits = {});
// Only the checks calibrate_to_file() makes before it runs anything, and that the input run files
// open as HDF5 (`rmaat pipeline` checks every stage first).
void check_calibration(const Config& cfg, const std::string& config_dir, const sim::Limits& limits = {});

}  // namespace rmaat::calib
