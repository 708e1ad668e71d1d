// libFuzzer target: the config loader (docs/design.md sections 7.2 and 9). The bytes are a TOML config,
// read by every stage the way the stage reads it:
//   simulate   Config::from_string + the [run], [network] and [calcium] readers: the path of
//              `rmaat simulate --check` (sim::simulate_to_file with check_only);
//   calibrate  the [calibration] reader as calib::calibrate_to_file reads it before it simulates, and the
//              tables it cuts from the resolved config for the simulations it records;
//   model      the [model] reader (layers::read_model_config), only in a build with LibTorch
//              (RMAAT_FUZZ_MODEL);
//   stored     config_text::flatten and cut_table, which read the config stored in run files.
// Oracle (fuzz/support.hpp): a config is rejected with an InputError or accepted; anything else is a crash.
// A config a stage accepts must also round-trip: its resolved text (what run files store and
// `rmaat simulate` reruns) is accepted again and resolves to the same text.
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <string_view>

#include "calibration/calibration.hpp"
#include "core/config.hpp"
#include "core/config_text.hpp"
#include "fuzz/support.hpp"
#include "sim/simulate.hpp"
#if RMAAT_FUZZ_MODEL
#include "layers/model_config.hpp"
#endif

using namespace rmaat;

namespace {

// Relative paths in a config (geometry files) start here, as for the examples.
const std::string kConfigDir = RMAAT_SOURCE_DIR "/examples";

using Stage = std::function<void(const Config&)>;

void simulate_check(const Config& cfg) {
    sim::simulate_to_file(cfg, kConfigDir, "", false, true);
}

// What calib::calibrate_to_file reads before it simulates, and the tables it cuts for its records.
void calibrate_check(const Config& cfg) {
    const ConfigSection root = cfg.root();
    root.section("run").get_int("seed", 1, Range::non_negative());
    calib::read_calibration_config(root.section("calibration"), kConfigDir);
    for (const char* other : {"run", "network", "calcium"}) cfg.ignore_section(other);
    cfg.check_all_used();
    const std::string resolved = cfg.resolved_text();
    config_text::cut_table(resolved, "calibration.ltp", "network");
    config_text::cut_table(resolved, "calibration.spatial", "network");
    config_text::cut_table(resolved, "calibration.calcium", "calcium", {{"input.rate_hz", 2.0}});
}

#if RMAAT_FUZZ_MODEL
void model_check(const Config& cfg) {
    layers::read_model_config(cfg.section("model"), kConfigDir);
    for (const char* other : {"run", "network", "calcium", "calibration"}) cfg.ignore_section(other);
    cfg.check_all_used();
}
#endif

[[noreturn]] void fail(const char* stage, const std::string& what, const std::string& text) {
    std::fprintf(stderr, "fuzz_config: %s stage: %s\n--- resolved config ---\n%s\n", stage, what.c_str(), text.c_str());
    std::abort();
}

// One stage on the config; when it accepts, the round trip of its resolved text.
void check_stage(const char* name, const Stage& stage, std::string_view text) {
    std::string resolved;
    const bool accepted = fuzz::accepts([&] {
        const Config cfg = Config::from_string(text, "fuzz.toml");
        stage(cfg);
        resolved = cfg.resolved_text();
    });
    if (!accepted) return;
    std::string again;
    try {
        const Config cfg = Config::from_string(resolved, "resolved.toml");
        stage(cfg);
        again = cfg.resolved_text();
    } catch (const InputError& e) {
        fail(name, std::string("the resolved config is refused: ") + e.what(), resolved);
    }
    if (again != resolved) fail(name, "the resolved config resolves to a different text:\n" + again, resolved);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    fuzz::quiet();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    check_stage("simulate", simulate_check, text);
    check_stage("calibrate", calibrate_check, text);
#if RMAAT_FUZZ_MODEL
    check_stage("model", model_check, text);
#endif
    fuzz::accepts([&] { config_text::flatten(text, "calcium", "fuzz.toml"); });
    fuzz::accepts([&] { config_text::cut_table(text, "calibration.calcium", "calcium", {{"input.rate_hz", 1.0}}); });
    return 0;
}
