#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "core/log.hpp"

namespace rmaat::cli {

// The whole chain from one config. Today it has the simulation stage; calibration, training and
// evaluation join it as they land (SPEC 7).
void add_pipeline(CLI::App& app) {
    auto* cmd = app.add_subcommand(
        "pipeline", "Run the chain from one config into a directory (with no config: the built-in demo). "
                    "Stages available now: simulate");
    struct Opts {
        std::string config, out = "demo";
        bool force = true;
    };
    auto o = std::make_shared<Opts>();
    cmd->add_option("config", o->config, "Config file (TOML); default: the built-in demo")->check(CLI::ExistingFile);
    cmd->add_option("-o,--output", o->out, "Output directory (created if missing)")->capture_default_str();
    cmd->callback([o] {
        if (mkdir(o->out.c_str(), 0755) != 0 && errno != EEXIST)
            throw std::runtime_error(fmt::format("cannot create directory '{}': {}", o->out, std::strerror(errno)));
        run_simulation(o->config, o->config.empty(), o->out + "/sim.h5", o->force);
        log::info("pipeline: simulation stage done ({}/sim.h5)", o->out);
    });
}

}  // namespace rmaat::cli
