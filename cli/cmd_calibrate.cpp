#include <sys/stat.h>

#include <fmt/format.h>

#include "calibration/calibration.hpp"
#include "cli/commands.hpp"
#include "core/config.hpp"
#include "core/log.hpp"
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

void run_calibration(const std::string& config_path, bool demo, const std::string& out_path, bool force) {
    if (!demo && config_path.empty()) throw CLI::ValidationError("calibrate", "give a CONFIG.toml or --demo");
    if (out_path.empty()) throw CLI::ValidationError("calibrate", "give the calibration file to write with -o CALIB.h5");
    if (exists(out_path) && !force)
        throw std::runtime_error(fmt::format("'{}' exists; pass --force to overwrite it", out_path));
    const Config cfg = demo ? Config::from_string(sim::demo_config_text(), "<built-in demo>")
                            : Config::from_file(config_path);
    log::info("calibrating {} -> {}", demo ? "the built-in demo" : config_path, out_path);
    const calib::Calibration c = calib::calibrate_to_file(cfg, demo ? "" : dir_of(config_path), out_path, true);
    fmt::print("{}", calib::summary_text(c));
    log::info("wrote {}", out_path);
}

void add_calibrate(CLI::App& app) {
    auto* cmd = app.add_subcommand(
        "calibrate", "Fit the macro model (retention factors, position-decay scale, calcium exponent alpha) from "
                     "simulations or existing run files into a calibration file");
    struct Opts {
        std::string config, out;
        bool demo = false, force = false;
    };
    auto o = std::make_shared<Opts>();
    cmd->add_option("config", o->config, "Config file (TOML) with a [calibration] table")->check(CLI::ExistingFile);
    cmd->add_flag("--demo", o->demo, "Use the built-in demo config (examples/demo.toml)");
    cmd->add_option("-o,--output", o->out, "Calibration file to write (HDF5)");
    cmd->add_flag("-f,--force", o->force, "Overwrite an existing file");
    cmd->callback([o] { run_calibration(o->config, o->demo, o->out, o->force); });
}

}  // namespace rmaat::cli
