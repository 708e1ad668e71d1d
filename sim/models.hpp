#pragma once
// The registry of simulation models: one row per model (docs/design.md section 3). `rmaat simulate`
// iterates the table, so a model is its own folder plus one row here (and its reader in models.cpp).
//
// A row's reader takes the model's config table ([network], [calcium], ...; the same name is the run
// file's group /sim/<name>), reads and validates everything in it, and returns the run, ready to go:
// every model's config is checked before the first one starts.
#include <functional>
#include <string>
#include <vector>

#include "core/choices.hpp"
#include "core/config.hpp"
#include "sim/limits.hpp"
#include "sim/recorder.hpp"

namespace rmaat::sim {

// A model's run with its config read and validated: simulates into `recorder`.
// Throws IntegrationError (time and variable named) after flushing what was recorded.
struct SimRun {
    std::function<void(Recorder& recorder, bool show_progress)> body;
    std::vector<Cost> costs;    // what it would take (sim/limits.hpp); knobs relative to the model's table
    std::string memory_advice;  // what to reduce when it runs out of memory
    void operator()(Recorder& recorder, bool show_progress) const { body(recorder, show_progress); }
};
// Reads and validates a model's config table (ConfigError naming the key and line).
using SimReader = SimRun (*)(const ConfigSection& table, const std::string& config_dir);

SimRun read_network_run(const ConfigSection& table, const std::string& config_dir);
SimRun read_calcium_run(const ConfigSection& table, const std::string& config_dir);

// In the order `rmaat simulate` runs them.
inline constexpr Choice<SimReader> kSimModelRows[] = {
    {&read_network_run, "network", "tripartite plasticity network: STP and LTP of rate-neuron synapses (3.1)"},
    {&read_calcium_run, "calcium",
     "biophysical tripartite synapse: TM release, G-ChI Ca2+/IP3, gliotransmission (3.2)"},
};
inline constexpr ChoiceTable kSimModels{"sim model", kSimModelRows};

}  // namespace rmaat::sim
