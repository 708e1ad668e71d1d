// libFuzzer target: the run-file readers (docs/design.md sections 7.3 and 9). The bytes are written to a
// scratch file, which is then read
//   as `rmaat inspect` reads any file (h5::File::open_read, the provenance attributes, list_objects);
//   by the calibration's input readers (calib::measure, as `rmaat calibrate` with [calibration.inputs]):
//   as the LTP run and as the focal spatial run, each followed by the fuzzed file as the only calcium run
//   (read in full, then refused: one run is no sweep, so nothing is ever simulated); and, when the file
//   looks like a calcium run, as one run of a sweep whose other runs, like the LTP and spatial runs, are
//   the valid files of the seed corpus (<build>/fuzz/seeds/run_file, fuzz/support.hpp). When every input
//   is read, the fits run on what was read (calib::fit_calibration).
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "calibration/calibration.hpp"
#include "core/h5_store.hpp"
#include "fuzz/h5_mutator.hpp"
#include "fuzz/support.hpp"

using namespace rmaat;

namespace {

struct Fixture {
    std::string input;    // the fuzzed file
    fuzz::RunFiles runs;  // valid run files for the other slots
};
const Fixture* fixture = nullptr;

void inspect(const std::string& path) {
    const h5::File f = h5::File::open_read(path);
    const h5::Group root = f.root();
    for (const char* a : {"tool", "tool_version", "git_commit", "created_utc", "command_line", "status", "config"})
        if (root.has_attr(a)) root.attr_string(a);
    for (const auto& o : root.list_objects()) (void)o;
}

// calib::measure with every input from a file or refused before any simulation, then the fits.
void calibrate_from(const std::string& ltp, const std::string& spatial, const std::vector<std::string>& calcium) {
    calib::CalibrationConfig cfg;
    cfg.T_max = fuzz::kLtpCycles;
    cfg.rates_hz = {1.0, 2.0, 5.0};
    cfg.ltp_run = ltp;
    cfg.spatial_run = spatial;
    cfg.calcium_runs = calcium;
    calib::Measurements m;
    if (!fuzz::accepts([&] { m = calib::measure(cfg, false); })) return;
    try {
        calib::fit_calibration(cfg, std::move(m));
    } catch (const RunError&) {  // a fit that does not converge on odd data is a failed run, not a bug
    }
}

// Worth a whole sweep (six more files to open and hash): the calcium reader itself already ran on it.
bool looks_like_calcium_run(const std::string& path) {
    bool yes = false;
    fuzz::accepts([&] { yes = h5::File::open_read(path).root().has("sim/calcium/summary"); });
    return yes;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    fuzz::quiet();
    fixture = new Fixture{fuzz::scratch_dir() + "/input.h5", fuzz::run_files_in(RMAAT_FUZZ_SEEDS "/run_file")};
    if (!std::filesystem::exists(fixture->runs.ltp)) {
        std::fprintf(stderr, "fuzz_run_file: no %s: build the target fuzz_seeds first\n", fixture->runs.ltp.c_str());
        std::exit(2);
    }
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const Fixture& fx = *fixture;
    const std::string& in = fx.input;
    fuzz::write_bytes(in, data, size);
    fuzz::accepts([&] { inspect(in); });
    calibrate_from(in, "", {in});
    calibrate_from("", in, {in});
    if (looks_like_calcium_run(in)) {
        const auto& ca = fx.runs.calcium;
        calibrate_from(fx.runs.ltp, fx.runs.spatial, {ca[0], ca[1], ca[2], in});
    }
    return 0;
}

extern "C" std::size_t LLVMFuzzerCustomMutator(std::uint8_t* data, std::size_t size, std::size_t max_size,
                                               unsigned int seed) {
    return fuzz::mutate_hdf5(data, size, max_size, seed);
}
