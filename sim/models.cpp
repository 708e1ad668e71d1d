#include "sim/models.hpp"

#include "sim/calcium/calcium_model.hpp"
#include "sim/network/network_model.hpp"

namespace rmaat::sim {

SimRun read_network_run(const ConfigSection& table, const std::string& config_dir) {
    return
        [cfg = read_network_config(table, config_dir)](Recorder& r, bool progress) { run_network(cfg, r, progress); };
}

SimRun read_calcium_run(const ConfigSection& table, const std::string& /*config_dir*/) {
    return [cfg = read_calcium_config(table)](Recorder& r, bool progress) { run_calcium(cfg, r, progress); };
}

}  // namespace rmaat::sim
