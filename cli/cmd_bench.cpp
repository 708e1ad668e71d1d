#include <sstream>

#include "bench/sim_bench.hpp"
#include "cli/commands.hpp"

namespace rmaat::cli {

void add_bench(CLI::App& app) {
    auto* cmd = app.add_subcommand("bench", "Benchmarks; each prints a Markdown table naming its configuration");
    cmd->require_subcommand(1);
    auto* sim = cmd->add_subcommand("sim", "Simulator speed: network model (dense vs fast coupling) and calcium model");
    auto o = std::make_shared<bench::SimBenchOptions>();
    sim->add_option("--sides", o->sides, "Network sizes (n_pre = n_post = side)")->capture_default_str();
    sim->add_option("--paths", o->paths, "Coupling paths")->check(CLI::IsMember({"dense", "fast"}))->capture_default_str();
    sim->add_option("--method", o->method, "Integrator")->check(CLI::IsMember({"dopri5", "rk4"}))->capture_default_str();
    sim->add_option("--dt", o->dt_s, "RK4 step (s)")->check(CLI::PositiveNumber)->capture_default_str();
    sim->add_option("--cycles", o->cycles, "STP cycles per network run")->check(CLI::PositiveNumber)->capture_default_str();
    sim->add_option("--repeats", o->repeats, "Repeats (best is reported)")->check(CLI::PositiveNumber)->capture_default_str();
    sim->add_option("--calcium-rate", o->calcium_rate_hz, "Calcium model input rate (Hz)")->capture_default_str();
    sim->add_option("--calcium-duration", o->calcium_duration_s, "Calcium model duration (s)")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    sim->add_flag("!--no-calcium", o->calcium, "Skip the calcium model");
    sim->callback([o] { bench::run_sim_bench(*o); });
}

}  // namespace rmaat::cli
