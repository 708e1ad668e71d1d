#include <sys/stat.h>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "core/config.hpp"
#include "core/log.hpp"
#include "core/progress.hpp"
#include "sim/simulate.hpp"

namespace rmaat::cli {

namespace {
bool exists(const std::string& p) {
    struct stat st{};
    return stat(p.c_str(), &st) == 0;
}
std::string dir_of(const std::string& p) {
    const auto slash = p.rfind('/');
    return slash == std::string::npos ? "" : p.substr(0, slash);
}
}  // namespace

void run_simulation(const std::string& config_path, bool demo, const std::string& out_path, bool force,
                    bool check_only) {
    if (!demo && config_path.empty()) throw CLI::ValidationError("simulate", "give a CONFIG.toml or --demo");
    if (check_only) {
        const Config cfg = demo ? Config::from_string(sim::demo_config_text(), "<built-in demo>")
                                : Config::from_file(config_path);
        sim::simulate_to_file(cfg, demo ? "" : dir_of(config_path), out_path, false, true);
        log::info("{}: config is valid", demo ? "<built-in demo>" : config_path);
        return;
    }
    if (out_path.empty()) throw CLI::ValidationError("simulate", "give the run file to write with -o RUN.h5");
    if (exists(out_path) && !force)
        throw std::runtime_error(fmt::format("'{}' exists; pass --force to overwrite it", out_path));
    const Config cfg = demo ? Config::from_string(sim::demo_config_text(), "<built-in demo>")
                            : Config::from_file(config_path);
    log::info("simulating {} -> {}", demo ? "the built-in demo" : config_path, out_path);
    sim::simulate_to_file(cfg, demo ? "" : dir_of(config_path), out_path, true);
    log::info("wrote {}", out_path);
}

void add_simulate(CLI::App& app) {
    auto* cmd = app.add_subcommand("simulate", "Simulate the network (STP/LTP) and/or calcium model into a run file");
    struct Opts {
        std::string config, out;
        bool demo = false, force = false, check = false;
    };
    auto o = std::make_shared<Opts>();
    cmd->add_option("config", o->config, "Config file (TOML); see examples/")->check(CLI::ExistingFile);
    cmd->add_flag("--demo", o->demo, "Use the built-in demo config (examples/demo.toml)");
    cmd->add_option("-o,--output", o->out, "Run file to write (HDF5)");
    cmd->add_flag("-f,--force", o->force, "Overwrite an existing run file");
    cmd->add_flag("--check", o->check, "Only read and validate the config; simulate nothing");
    cmd->callback([o] { run_simulation(o->config, o->demo, o->out, o->force, o->check); });
}

}  // namespace rmaat::cli
