#include "sim/simulate.hpp"

#include <algorithm>
#include <new>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/h5_store.hpp"
#include "core/interrupt.hpp"
#include "core/log.hpp"
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

// Publishes the run file; when its name appeared meanwhile (another run), the run stays under its working name.
void commit_run(h5::File& file) {
    try {
        file.commit();
    } catch (const InputError& e) {
        throw h5::Error(fmt::format("{}; this run is kept as '{}'", e.what(), file.working_path()));
    }
}

// One model into /sim/<name>. An integration error commits the file marked "failed: ..." (what was recorded
// stays readable); a stop signal keeps it under its working name marked "interrupted".
void run_model(h5::File& file, const std::string& name, const SimRun& body, bool show_progress) {
    const h5::Group top = file.root();
    const h5::Group g = top.group("sim/" + name);
    H5Recorder rec(g, &file);
    try {
        body(rec, show_progress);
        g.attr("status", std::string("complete"));
    } catch (const IntegrationError& e) {
        rec.flush();
        g.attr("status", std::string("failed: ") + e.what());
        top.attr("status", std::string("failed: ") + e.what());
        commit_run(file);
        throw IntegrationError(
            fmt::format("{} model: {}; what was recorded up to then is in {}", name, e.what(), file.path()), e.time_s,
            e.variable);
    } catch (const std::bad_alloc&) {
        std::string kept = file.path();
        try {
            rec.flush();
            g.attr("status", std::string("failed: out of memory"));
            top.attr("status", std::string("failed: out of memory"));
            commit_run(file);
        } catch (...) {  // the file stays under its working name
            kept = file.working_path();
        }
        throw RunError(fmt::format("{} model: out of memory; {}. What was recorded up to then is in {}", name,
                                   body.memory_advice, kept));
    } catch (const Interrupted& e) {
        rec.flush();
        g.attr("status", std::string("interrupted"));
        top.attr("status", std::string("interrupted"));
        file.close();
        throw Interrupted(e.signal,
                          fmt::format("{}: the {} model stopped; what was recorded up to then is kept in '{}' "
                                      "(status \"interrupted\"); it is not '{}'",
                                      e.what(), name, file.working_path(), file.path()));
    }
}

}  // namespace

void simulate_to_file(const Config& cfg, const std::string& config_dir, const std::string& out_path, bool show_progress,
                      bool check_only, Replace replace, const Limits& limits) {
    const ConfigSection root = cfg.root();
    const ConfigSection run = root.section("run");
    const auto models = requested_models(root, run);
    const auto seed = static_cast<std::uint64_t>(run.get_int("seed", 1, Range::non_negative()));

    // Every model's table is read and checked before the first one runs (in table order).
    std::vector<std::pair<std::string, SimRun>> runs;
    for (const auto& m : kSimModels)
        if (contains(models, m.name)) runs.emplace_back(m.name, m.value(root.section(m.name), config_dir));
    for (const char* next : {"calibration", "model", "train", "data"}) cfg.ignore_section(next);  // later stages
    cfg.check_all_used();
    for (const auto& [name, body] : runs) check_costs(body.costs, root.section(name), limits, "the run file");
    if (check_only) return;

    h5::File file = h5::File::create(out_path, replace);
    try {
        const h5::Group top = file.root();
        write_provenance(top, cfg.resolved_text(), seed);
        top.attr("status", std::string("running"));
        file.flush();
        for (const auto& [name, body] : runs) run_model(file, name, body, show_progress);
        top.attr("status", std::string("complete"));
        commit_run(file);
    } catch (const WriteError&) {
        file.discard();  // written only in part: not kept (its metadata may be unreadable; the disk may be full)
        throw;
    }
}

}  // namespace rmaat::sim
