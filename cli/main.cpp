// rmaat: simulate neuron-astrocyte dynamics, calibrate the RMAAT macro model, train and evaluate.
#include <hdf5.h>
#include <CLI/CLI.hpp>

#include <exception>
#include <new>
#include <string>

#include "cli/commands.hpp"
#include "core/error.hpp"
#include "core/interrupt.hpp"
#include "core/log.hpp"
#include "core/progress.hpp"
#include "core/provenance.hpp"
#ifdef RMAAT_WITH_TORCH
#include "kernels/host_memory.hpp"
#endif
#include "rmaat/version.hpp"

namespace {

std::string subcommand_name(const CLI::App& app) {
    std::string name;
    for (const CLI::App* sub = &app; !sub->get_subcommands().empty();) {
        sub = sub->get_subcommands().front();
        name += (name.empty() ? "" : " ") + sub->get_name();
    }
    return name;
}

}  // namespace

int main(int argc, char** argv) {
    // Every HDF5 file is closed explicitly (RAII) before main returns; the library's own clean-up at exit
    // would only meet files whose close failed (a full disk), and HDF5 1.10 crashes on those.
    H5dont_atexit();
#ifdef RMAAT_WITH_TORCH
    rmaat::kernels::keep_freed_memory();  // no page faults for the activations of every step
#endif
    rmaat::set_command_line(argc, argv);
    rmaat::install_stop_handlers();  // SIGINT/SIGTERM stop runs at a safe point (core/interrupt.hpp)
    CLI::App app{"rmaat: neuron-astrocyte simulation -> RMAAT macro model -> long-context transformer"};
    app.require_subcommand(1);
    app.fallthrough();  // global flags also work after the subcommand
    app.set_version_flag("--version", std::string("rmaat ") + rmaat::kVersion + " (" + rmaat::kGitCommit + ")");
    bool quiet = false, verbose = false, no_progress = false;
    app.add_flag("-q,--quiet", quiet, "Only print errors");
    app.add_flag("-v,--verbose", verbose, "Print debug messages");
    app.add_flag("--no-progress", no_progress, "Do not draw progress bars");
    rmaat::cli::add_simulate(app);
    rmaat::cli::add_calibrate(app);
    rmaat::cli::add_pipeline(app);
    rmaat::cli::add_inspect(app);
    rmaat::cli::add_bench(app);
    rmaat::cli::add_data(app);
#ifdef RMAAT_WITH_TORCH
    rmaat::cli::add_train(app);
    rmaat::cli::add_eval(app);
#endif
    app.parse_complete_callback([&] {
        rmaat::log::set_level(quiet     ? rmaat::log::Level::error
                              : verbose ? rmaat::log::Level::debug
                                        : rmaat::log::Level::info);
        rmaat::Progress::set_enabled_globally(!quiet && !no_progress);
    });

    // Exit codes (docs/design.md section 7.4): 0 success, 2 bad input (InputError: arguments, configs,
    // data, run and calibration files), 1 failed run (RunError: also a failed write, out of memory), 128 +
    // signal for a run stopped by SIGINT (130) or SIGTERM (143), 1 for anything else (a bug in rmaat).
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        app.exit(e);
        return 2;
    } catch (const rmaat::InputError& e) {
        rmaat::log::error("{}", e.what());
        return 2;
    } catch (const rmaat::Interrupted& e) {
        rmaat::log::error("{}", e.what());
        return 128 + e.signal;
    } catch (const rmaat::RunError& e) {
        // An IntegrationError names the model and the run file, or the calibration's simulation.
        rmaat::log::error("run failed: {}", e.what());
        return 1;
    } catch (const std::bad_alloc&) {
        // Where a stage knows what holds the memory it says so (a RunError above); this is anything else.
        rmaat::log::error(
            "out of memory in 'rmaat {}': the input needs more memory than this machine has; reduce the sizes in "
            "its config (network n_pre x n_post, record_full, the recording grids record_dt_s, durations, the "
            "calibration's rates_hz)",
            subcommand_name(app));
        return 1;
    } catch (const std::exception& e) {
        rmaat::log::error("internal error (please report it): {}", e.what());
        return 1;
    }
    return 0;
}
