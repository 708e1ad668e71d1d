#pragma once
// Subcommands of the rmaat CLI. Each adds itself to the app; its callback does the work.
#include <CLI/CLI.hpp>

#include <string>

#include "core/config.hpp"
#include "sim/limits.hpp"
#ifdef RMAAT_WITH_TORCH
#include "trainer/trainer.hpp"
#endif

namespace rmaat::cli {

// Shared by the subcommands that take "CONFIG.toml or --demo" and write one output file.
struct ConfigInput {
    Config config;
    std::string dir;   // directory of the config file (relative paths in it start there)
    std::string name;  // for messages
};
// Loads the config, or the built-in demo.
ConfigInput load_config_input(const char* command, const std::string& config_path, bool demo);
// Checks an output path before any work: given; not existing unless `force`; never a directory or
// another non-regular file (not even with `force`); in a directory that exists and is writable.
void check_output(const char* command, const std::string& out_path, bool force);

void add_simulate(CLI::App& app);
void add_pipeline(CLI::App& app);
void add_inspect(CLI::App& app);
void add_bench(CLI::App& app);
void add_calibrate(CLI::App& app);
void add_data(CLI::App& app);
#ifdef RMAAT_WITH_TORCH
void add_train(CLI::App& app);
void add_eval(CLI::App& app);
// Shared by train and pipeline: a fresh training request from a config file or the built-in demo.
trainer::TrainRequest train_request(const std::string& config_path, bool demo, const std::string& out, bool force);
#endif

// Shared by simulate and pipeline: config (file or built-in demo) -> run file.
void run_simulation(const std::string& config_path, bool demo, const std::string& out_path, bool force,
                    bool check_only = false, const sim::Limits& limits = {});
// Shared by calibrate and pipeline: config (file or built-in demo) -> calibration file.
void run_calibration(const std::string& config_path, bool demo, const std::string& out_path, bool force,
                     const sim::Limits& limits = {});
// The --allow-large flag of simulate, calibrate and pipeline (sim/limits.hpp).
void add_allow_large(CLI::App* cmd, bool& allow_large);

}  // namespace rmaat::cli
