#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "calibration/calibration.hpp"
#include "cli/commands.hpp"
#include "core/config.hpp"
#include "core/log.hpp"
#include "sim/simulate.hpp"

namespace rmaat::cli {

namespace {

struct PipelineOptions {
    std::string config, out = "demo";
    bool force = false, allow_large = false;
};

// The whole chain from one config. Today: simulate (when the config has [network] or [calcium]),
// then calibrate (when it has [calibration]); training and evaluation join as they land (docs/design.md
// section 7.1). Every stage's config and every output path is checked before the first stage runs, so
// a typo in [calibration] or an existing output fails in milliseconds, not after the simulation.
void run_pipeline(const PipelineOptions& o) {
    const bool demo = o.config.empty();
    sim::Limits limits;
    limits.allow_large = o.allow_large;
    // Each stage reads its own copy: a stage marks the others' tables as theirs.
    auto load = [&] { return load_config_input("pipeline", o.config, demo); };
    const ConfigInput in = load();
    const bool has_sim = in.config.root().has("network") || in.config.root().has("calcium");
    const bool has_calib = in.config.root().has("calibration");
    if (!has_sim && !has_calib) throw ConfigError(in.name + ": no [network], [calcium] or [calibration] table");
    const std::string sim_out = o.out + "/sim.h5", calib_out = o.out + "/calib.h5";

    if (has_sim) sim::simulate_to_file(load().config, in.dir, sim_out, false, true, Replace::no, limits);
    if (has_calib) calib::check_calibration(load().config, in.dir, limits);
    if (mkdir(o.out.c_str(), 0755) != 0 && errno != EEXIST)
        throw InputError(fmt::format("cannot create directory '{}': {}", o.out, std::strerror(errno)));
    if (has_sim) check_output("pipeline", sim_out, o.force);
    if (has_calib) {
        check_output("pipeline", calib_out, o.force);
        check_output("pipeline", calib::summary_path(calib_out), o.force);
    }

    if (has_sim) {
        run_simulation(o.config, demo, sim_out, o.force, false, limits);
        log::info("pipeline: simulation stage done ({})", sim_out);
    }
    if (has_calib) {
        run_calibration(o.config, demo, calib_out, o.force, limits);
        log::info("pipeline: calibration stage done ({})", calib_out);
    }
}

}  // namespace

void add_pipeline(CLI::App& app) {
    auto* cmd =
        app.add_subcommand("pipeline",
                           "Run the chain from one config into a directory (with no config: the built-in demo). "
                           "Stages available now: simulate -> calibrate. Every stage's config and output is "
                           "checked before the first stage runs");
    auto o = std::make_shared<PipelineOptions>();
    cmd->add_option("config", o->config, "Config file (TOML); default: the built-in demo")->check(CLI::ExistingFile);
    cmd->add_option("-o,--output", o->out, "Output directory (created if missing)")->capture_default_str();
    cmd->add_flag("-f,--force", o->force, "Overwrite existing outputs in the directory (sim.h5, calib.h5)");
    add_allow_large(cmd, o->allow_large);
    cmd->callback([o] { run_pipeline(*o); });
}

}  // namespace rmaat::cli
