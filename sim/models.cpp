#include "sim/models.hpp"

#include "sim/calcium/calcium_model.hpp"
#include "sim/network/network_model.hpp"

namespace rmaat::sim {

SimRun read_network_run(const ConfigSection& table, const std::string& config_dir) {
    const NetworkRunConfig cfg = read_network_config(table, config_dir);
    return {[cfg](Recorder& r, bool progress) { run_network(cfg, r, progress); }, network_costs(cfg),
            network_memory_advice(cfg)};
}

SimRun read_calcium_run(const ConfigSection& table, const std::string& /*config_dir*/) {
    const CalciumRunConfig cfg = read_calcium_config(table);
    return {[cfg](Recorder& r, bool progress) { run_calcium(cfg, r, progress); }, calcium_costs(cfg),
            calcium_memory_advice()};
}

}  // namespace rmaat::sim
