#include <fmt/format.h>

#include "cli/commands.hpp"
#include "core/config.hpp"
#include "core/log.hpp"
#include "core/progress.hpp"
#include "sim/simulate.hpp"

namespace rmaat::cli {

void run_simulation(const std::string& config_path, bool demo, const std::string& out_path, bool force, bool check_only,
                    const sim::Limits& limits) {
    const ConfigInput in = load_config_input("simulate", config_path, demo);
    if (check_only) {  // validation only: no output file is involved
        sim::simulate_to_file(in.config, in.dir, out_path, false, true, Replace::no, limits);
        log::info("{}: config is valid", in.name);
        return;
    }
    check_output("simulate", out_path, force);
    log::info("simulating {} -> {}", in.name, out_path);
    sim::simulate_to_file(in.config, in.dir, out_path, true, false, force ? Replace::yes : Replace::no, limits);
    log::info("wrote {}", out_path);
}

void add_simulate(CLI::App& app) {
    auto* cmd = app.add_subcommand("simulate", "Simulate the network (STP/LTP) and/or calcium model into a run file");
    struct Opts {
        std::string config, out;
        bool demo = false, force = false, check = false, allow_large = false;
    };
    auto o = std::make_shared<Opts>();
    cmd->add_option("config", o->config, "Config file (TOML); see examples/")->check(CLI::ExistingFile);
    cmd->add_flag("--demo", o->demo, "Use the built-in demo config (examples/demo.toml)");
    cmd->add_option("-o,--output", o->out, "Run file to write (HDF5)");
    cmd->add_flag("-f,--force", o->force, "Overwrite an existing run file");
    cmd->add_flag("--check", o->check, "Only read and validate the config (and its size limits); simulate nothing");
    add_allow_large(cmd, o->allow_large);
    cmd->callback([o] {
        sim::Limits limits;
        limits.allow_large = o->allow_large;
        run_simulation(o->config, o->demo, o->out, o->force, o->check, limits);
    });
}

}  // namespace rmaat::cli
