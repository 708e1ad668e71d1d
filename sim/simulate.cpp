#include "sim/simulate.hpp"

#include <algorithm>
#include <new>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/h5_store.hpp"
#include "core/provenance.hpp"
#include "rmaat/demo_config.hpp"
#include "sim/models.hpp"
#include "sim/ode_driver.hpp"
#include "sim/recorder.hpp"

namespace rmaat::sim {

const char* demo_config_text() {
    return kDemoConfigToml;
}

namespace {

bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

// [run] models: default the models whose tables are present, all of them when none is.
std::vector<std::string> requested_models(const ConfigSection& root, const ConfigSection& run) {
    std::vector<std::string> present;
    for (const auto& m : kSimModels)
        if (root.has(m.name)) present.push_back(m.name);
    if (present.empty()) present = kSimModels.names();
    const auto models = run.get_string_array("models", present, kSimModels.names());
    if (models.empty()) throw run.error("models", "names no model");
    for (const auto& m : kSimModels)
        if (root.has(m.name) && !contains(models, m.name))
            throw root.error(m.name, "table given but run.models does not include this model");
    return models;
}

}  // namespace

void simulate_to_file(const Config& cfg, const std::string& config_dir, const std::string& out_path, bool show_progress,
                      bool check_only, const Limits& limits) {
    const ConfigSection root = cfg.root();
    const ConfigSection run = root.section("run");
    const auto models = requested_models(root, run);
    const auto seed = static_cast<std::uint64_t>(run.get_int("seed", 1, Range::non_negative()));

    // Every model's table is read and checked before the first one runs (in table order).
    std::vector<std::pair<std::string, SimRun>> runs;
    for (const auto& m : kSimModels)
        if (contains(models, m.name)) runs.emplace_back(m.name, m.value(root.section(m.name), config_dir));
    cfg.ignore_section("calibration");  // the next stage of `rmaat pipeline`
    cfg.check_all_used();
    for (const auto& [name, body] : runs) check_costs(body.costs, root.section(name), limits, "the run file");
    if (check_only) return;

    h5::File file = h5::File::create(out_path);
    const h5::Group top = file.root();
    write_provenance(top, cfg.resolved_text(), seed);
    top.attr("status", std::string("running"));
    file.flush();

    for (const auto& [name, body] : runs) {
        h5::Group g = top.group("sim/" + name);
        H5Recorder rec(g, &file);
        // What was recorded stays, marked failed, under the final name (docs/design.md section 7.3).
        auto fail = [&](const std::string& reason) {
            rec.flush();
            g.attr("status", "failed: " + reason);
            top.attr("status", "failed: " + reason);
            file.commit();
        };
        try {
            body(rec, show_progress);
            g.attr("status", std::string("complete"));
        } catch (const IntegrationError& e) {
            fail(e.what());
            throw IntegrationError(
                fmt::format("{} model: {}; what was recorded up to then is in {}", name, e.what(), out_path), e.time_s,
                e.variable);
        } catch (const std::bad_alloc&) {
            std::string kept = out_path;
            try {
                fail("out of memory");
            } catch (...) {  // the file stays as .partial
                kept = out_path + ".partial";
            }
            throw RunError(fmt::format("{} model: out of memory; {}. What was recorded up to then is in {}", name,
                                       body.memory_advice, kept));
        }
    }
    top.attr("status", std::string("complete"));
    file.commit();
}

}  // namespace rmaat::sim
