#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "core/config.hpp"
#include "core/log.hpp"

namespace rmaat::cli {

// The whole chain from one config. Today: simulate (when the config has [network] or [calcium]),
// then calibrate (when it has [calibration]); training and evaluation join as they land (docs/design.md section 7).
void add_pipeline(CLI::App& app) {
    auto* cmd =
        app.add_subcommand("pipeline",
                           "Run the chain from one config into a directory (with no config: the built-in demo). "
                           "Stages available now: simulate -> calibrate");
    struct Opts {
        std::string config, out = "demo";
        bool force = true;
    };
    auto o = std::make_shared<Opts>();
    cmd->add_option("config", o->config, "Config file (TOML); default: the built-in demo")->check(CLI::ExistingFile);
    cmd->add_option("-o,--output", o->out, "Output directory (created if missing)")->capture_default_str();
    cmd->callback([o] {
        if (mkdir(o->out.c_str(), 0755) != 0 && errno != EEXIST)
            throw InputError(fmt::format("cannot create directory '{}': {}", o->out, std::strerror(errno)));
        const bool demo = o->config.empty();
        const Config cfg = load_config_input("pipeline", o->config, demo).config;
        const bool has_sim = cfg.root().has("network") || cfg.root().has("calcium");
        const bool has_calib = cfg.root().has("calibration");
        if (!has_sim && !has_calib) throw ConfigError(o->config + ": no [network], [calcium] or [calibration] table");
        if (has_sim) {
            run_simulation(o->config, demo, o->out + "/sim.h5", o->force);
            log::info("pipeline: simulation stage done ({}/sim.h5)", o->out);
        }
        if (has_calib) {
            run_calibration(o->config, demo, o->out + "/calib.h5", o->force);
            log::info("pipeline: calibration stage done ({}/calib.h5)", o->out);
        }
    });
}

}  // namespace rmaat::cli
