#include <fmt/format.h>

#include "calibration/calibration.hpp"
#include "cli/commands.hpp"
#include "core/config.hpp"
#include "core/log.hpp"
#include "sim/simulate.hpp"

namespace rmaat::cli {

void run_calibration(const std::string& config_path, bool demo, const std::string& out_path, bool force,
                     const sim::Limits& limits) {
    const ConfigInput in = load_config_input("calibrate", config_path, demo);
    check_output("calibrate", out_path, force);
    check_output("calibrate", calib::summary_path(out_path), force);
    log::info("calibrating {} -> {}", in.name, out_path);
    const calib::Calibration c =
        calib::calibrate_to_file(in.config, in.dir, out_path, true, force ? Replace::yes : Replace::no, limits);
    fmt::print("{}", calib::summary_text(c));
    log::info("wrote {}", out_path);
}

void add_calibrate(CLI::App& app) {
    auto* cmd =
        app.add_subcommand("calibrate",
                           "Fit the macro model (retention factors, position-decay scale, calcium exponent alpha) from "
                           "simulations or existing run files into a calibration file");
    struct Opts {
        std::string config, out;
        bool demo = false, force = false, allow_large = false;
    };
    auto o = std::make_shared<Opts>();
    cmd->add_option("config", o->config, "Config file (TOML) with a [calibration] table")->check(CLI::ExistingFile);
    cmd->add_flag("--demo", o->demo, "Use the built-in demo config (examples/demo.toml)");
    cmd->add_option("-o,--output", o->out, "Calibration file to write (HDF5)");
    cmd->add_flag("-f,--force", o->force, "Overwrite an existing calibration file and its summary");
    add_allow_large(cmd, o->allow_large);
    cmd->callback([o] {
        sim::Limits limits;
        limits.allow_large = o->allow_large;
        run_calibration(o->config, o->demo, o->out, o->force, limits);
    });
}

}  // namespace rmaat::cli
