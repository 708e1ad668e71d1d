#pragma once
// Subcommands of the rmaat CLI. Each adds itself to the app; its callback does the work.
#include <CLI/CLI.hpp>

namespace rmaat::cli {

void add_simulate(CLI::App& app);
void add_pipeline(CLI::App& app);
void add_inspect(CLI::App& app);
void add_bench(CLI::App& app);
void add_calibrate(CLI::App& app);

// Shared by simulate and pipeline: config (file or built-in demo) -> run file.
void run_simulation(const std::string& config_path, bool demo, const std::string& out_path, bool force,
                    bool check_only = false);
// Shared by calibrate and pipeline: config (file or built-in demo) -> calibration file.
void run_calibration(const std::string& config_path, bool demo, const std::string& out_path, bool force);

}  // namespace rmaat::cli
