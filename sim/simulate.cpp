#include "sim/simulate.hpp"

#include <algorithm>
#include <optional>

#include "core/h5_store.hpp"
#include "core/log.hpp"
#include "core/provenance.hpp"
#include "rmaat/demo_config.hpp"
#include "sim/calcium/calcium_model.hpp"
#include "sim/network/network_model.hpp"
#include "sim/recorder.hpp"

namespace rmaat::sim {

const char* demo_config_text() {
    return kDemoConfigToml;
}

void simulate_to_file(const Config& cfg, const std::string& config_dir, const std::string& out_path, bool show_progress,
                      bool check_only) {
    const ConfigSection root = cfg.root();
    const ConfigSection run = root.section("run");
    std::vector<std::string> present;
    for (const char* m : {"network", "calcium"})
        if (root.has(m)) present.push_back(m);
    if (present.empty()) present = {"network", "calcium"};
    const auto models = run.get_string_array("models", present, {"network", "calcium"});
    if (models.empty()) throw run.error("models", "names no model");
    const auto seed = static_cast<std::uint64_t>(run.get_int("seed", 1, Range::non_negative()));
    const bool want_network = std::count(models.begin(), models.end(), "network") > 0;
    const bool want_calcium = std::count(models.begin(), models.end(), "calcium") > 0;
    for (const char* m : {"network", "calcium"})
        if (root.has(m) && std::count(models.begin(), models.end(), m) == 0)
            throw root.error(m, "table given but run.models does not include this model");

    std::optional<NetworkRunConfig> net;
    std::optional<CalciumRunConfig> ca;
    if (want_network) net = read_network_config(root.section("network"), config_dir);
    if (want_calcium) ca = read_calcium_config(root.section("calcium"));
    cfg.ignore_section("calibration");  // the next stage of `rmaat pipeline`
    cfg.check_all_used();
    if (check_only) return;

    h5::File file = h5::File::create(out_path);
    const h5::Group top = file.root();
    write_provenance(top, cfg.resolved_text(), seed);
    top.attr("status", std::string("running"));
    file.flush();

    auto run_model = [&](const std::string& name, auto&& body) {
        h5::Group g = top.group("sim/" + name);
        H5Recorder rec(g, &file);
        try {
            body(rec);
            g.attr("status", std::string("complete"));
        } catch (const IntegrationError& e) {
            rec.flush();
            g.attr("status", std::string("failed: ") + e.what());
            top.attr("status", std::string("failed: ") + e.what());
            file.commit();
            log::error("{} model: {}; what was recorded up to then is in {}", name, e.what(), out_path);
            throw;
        }
    };
    if (net) run_model("network", [&](Recorder& r) { run_network(*net, r, show_progress); });
    if (ca) run_model("calcium", [&](Recorder& r) { run_calcium(*ca, r, show_progress); });
    top.attr("status", std::string("complete"));
    file.commit();
}

}  // namespace rmaat::sim
