#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "calibration/calibration.hpp"
#include "cli/commands.hpp"
#include "core/config.hpp"
#include "core/log.hpp"
#include "sim/simulate.hpp"
#ifdef RMAAT_WITH_TORCH
#include "trainer/trainer.hpp"
#endif

namespace rmaat::cli {

namespace {

struct PipelineOptions {
    std::string config, out = "demo";
    bool force = false, allow_large = false;
};

// The whole chain from one config: simulate (when the config has [network] or [calcium]), calibrate
// (when it has [calibration]), train and evaluate (when it has [train]; the model uses this calibration
// unless [model] names one) (docs/design.md section 7.1). Every stage's config and every output path is checked before
// the first stage runs, so a typo in [calibration] or an existing output fails in milliseconds, not after the
// simulation.
void run_pipeline(const PipelineOptions& o) {
    const bool demo = o.config.empty();
    sim::Limits limits;
    limits.allow_large = o.allow_large;
    // Each stage reads its own copy: a stage marks the others' tables as theirs.
    auto load = [&] { return load_config_input("pipeline", o.config, demo); };
    const ConfigInput in = load();
    const bool has_sim = in.config.root().has("network") || in.config.root().has("calcium");
    const bool has_calib = in.config.root().has("calibration");
    const bool has_train = in.config.root().has("train");
#ifndef RMAAT_WITH_TORCH
    if (has_train) throw ConfigError(in.name + ": [train] needs rmaat built with LibTorch (RMAAT_WITH_TORCH)");
#endif
    if (!has_sim && !has_calib && !has_train)
        throw ConfigError(in.name + ": no [network], [calcium], [calibration] or [train] table");
    const std::string sim_out = o.out + "/sim.h5", calib_out = o.out + "/calib.h5", train_out = o.out + "/train.h5";

    if (has_sim) sim::simulate_to_file(load().config, in.dir, sim_out, false, true, Replace::no, limits);
    if (has_calib) calib::check_calibration(load().config, in.dir, limits);
#ifdef RMAAT_WITH_TORCH
    if (has_train) trainer::check_train_config(load().config, in.dir);
#endif
    if (mkdir(o.out.c_str(), 0755) != 0 && errno != EEXIST)
        throw InputError(fmt::format("cannot create directory '{}': {}", o.out, std::strerror(errno)));
    if (has_sim) check_output("pipeline", sim_out, o.force);
    if (has_calib) {
        check_output("pipeline", calib_out, o.force);
        check_output("pipeline", calib::summary_path(calib_out), o.force);
    }
    if (has_train) check_output("pipeline", train_out, o.force);

    if (has_sim) {
        run_simulation(o.config, demo, sim_out, o.force, false, limits);
        log::info("pipeline: simulation stage done ({})", sim_out);
    }
    if (has_calib) {
        run_calibration(o.config, demo, calib_out, o.force, limits);
        log::info("pipeline: calibration stage done ({})", calib_out);
    }
#ifdef RMAAT_WITH_TORCH
    if (has_train) {
        trainer::TrainRequest req = train_request(o.config, demo, train_out, o.force);
        if (has_calib) req.calibration = calib_out;
        const trainer::TrainResult r = trainer::train(req);
        log::info("pipeline: training stage done ({}, {} steps)", train_out, r.steps);
        if (r.test.n > 0)
            fmt::print("pipeline: evaluation on the test split of {}\n{}", train_out, trainer::format_eval(r.test));
        log::info("pipeline: evaluation stage done");
    }
#endif
}

}  // namespace

void add_pipeline(CLI::App& app) {
    auto* cmd =
        app.add_subcommand("pipeline",
                           "Run the chain from one config into a directory (with no config: the built-in demo). "
                           "Stages: simulate -> calibrate -> train -> eval, each when the config has its tables. "
                           "Every stage's config and output is checked before the first stage runs");
    auto o = std::make_shared<PipelineOptions>();
    cmd->add_option("config", o->config, "Config file (TOML); default: the built-in demo")->check(CLI::ExistingFile);
    cmd->add_option("-o,--output", o->out, "Output directory (created if missing)")->capture_default_str();
    cmd->add_flag("-f,--force", o->force, "Overwrite existing outputs in the directory (sim.h5, calib.h5, train.h5)");
    add_allow_large(cmd, o->allow_large);
    cmd->callback([o] {
        // Every rank would run every stage into the same files: data parallel is `rmaat train`'s.
        if (const char* w = std::getenv("WORLD_SIZE"); w && std::string(w) != "1" && std::string(w) != "")
            throw InputError(
                fmt::format("rmaat pipeline runs as one process (WORLD_SIZE={} is set); run its "
                            "stages alone and train on several ranks with `rmaat train`",
                            w));
        run_pipeline(*o);
    });
}

}  // namespace rmaat::cli
