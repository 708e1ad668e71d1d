#pragma once
// Subcommands of the rmaat CLI. Each adds itself to the app; its callback does the work.
#include <CLI/CLI.hpp>

#include <string>

#include "core/config.hpp"

namespace rmaat::cli {

// Shared by the subcommands that take "CONFIG.toml or --demo" and write one output file.
struct ConfigInput {
    Config config;
    std::string dir;   // directory of the config file (relative paths in it start there)
    std::string name;  // for messages
};
// Loads the config, or the built-in demo.
ConfigInput load_config_input(const char* command, const std::string& config_path, bool demo);
// Checks that an output path is given and that it does not exist unless `force`.
void check_output(const char* command, const std::string& out_path, bool force);

void add_simulate(CLI::App& app);
void add_pipeline(CLI::App& app);
void add_inspect(CLI::App& app);
void add_bench(CLI::App& app);
void add_calibrate(CLI::App& app);
void add_data(CLI::App& app);

// Shared by simulate and pipeline: config (file or built-in demo) -> run file.
void run_simulation(const std::string& config_path, bool demo, const std::string& out_path, bool force,
                    bool check_only = false);
// Shared by calibrate and pipeline: config (file or built-in demo) -> calibration file.
void run_calibration(const std::string& config_path, bool demo, const std::string& out_path, bool force);

}  // namespace rmaat::cli
