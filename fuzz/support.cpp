#include "fuzz/support.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <fmt/format.h>
#include <hdf5.h>

#include "calibration/calibration.hpp"
#include "core/config.hpp"
#include "core/log.hpp"
#include "core/progress.hpp"
#include "sim/simulate.hpp"

namespace rmaat::fuzz {

void quiet() {
    log::set_level(log::Level::error);
    Progress::set_enabled_globally(false);
    // HDF5 keeps the blocks of closed files for reuse without a size limit: otherwise every open of a
    // file allocates and clears its ~1 MB metadata cache afresh (under ASan: mmap, page faults), which
    // was most of fuzz_run_file's time. Leaves what the readers do unchanged.
    H5set_free_list_limits(-1, -1, -1, -1, -1, -1);
}

const std::string& scratch_dir() {
    // Never destroyed: the exit handler that removes the directory runs after static destructors.
    static const std::string* const dir = [] {
        const char* tmp = std::getenv("TMPDIR");
        auto* path = new std::string(std::string(tmp && *tmp ? tmp : "/tmp") + "/rmaat-fuzz-XXXXXX");
        if (!mkdtemp(path->data())) throw std::runtime_error("cannot create a scratch directory " + *path);
        std::atexit([] { std::filesystem::remove_all(scratch_dir()); });
        return path;
    }();
    return *dir;
}

void write_bytes(const std::string& path, const std::uint8_t* data, std::size_t size) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!out) throw std::runtime_error("cannot write " + path);
}

namespace {

constexpr int kCalciumRates[] = {0, 1, 2, 5};

void simulate(const std::string& path, const std::string& toml) {
    std::filesystem::remove(path);
    sim::simulate_to_file(Config::from_string(toml, std::filesystem::path(path).stem().string() + ".toml"), "", path,
                          false);
}

}  // namespace

RunFiles run_files_in(const std::string& dir) {
    RunFiles r{dir + "/ltp.h5", dir + "/spatial.h5", {}};
    for (int rate : kCalciumRates) r.calcium.push_back(fmt::format("{}/calcium_{}Hz.h5", dir, rate));
    return r;
}

RunFiles write_run_files(const std::string& dir) {
    const RunFiles r = run_files_in(dir);
    simulate(r.ltp, fmt::format("[network]\ncycles = {}\nrecord_dt_s = 1.0\n", kLtpCycles));
    simulate(r.spatial,
             "[network]\nn_pre = 1\nn_post = 9\ncycles = 1\nrecord_dt_s = 1.0\n[network.geometry]\nkind = \"line\"\n"
             "[network.protocol]\nkind = \"focal\"\n");
    for (size_t i = 0; i < r.calcium.size(); ++i) {
        const int rate = kCalciumRates[i];
        simulate(r.calcium[i], fmt::format("[calcium]\nduration_s = 12.0\nrecord_dt_s = 1.0\n"
                                           "stats_window_s = [2.0, 12.0]\n[calcium.input]\nspikes = \"{}\"\n"
                                           "rate_hz = {}.0\n",
                                           rate == 0 ? "none" : "regular", rate));
    }
    return r;
}

std::string write_calibration_file(const std::string& dir, const RunFiles& runs) {
    std::string calcium;
    for (const auto& p : runs.calcium) calcium += (calcium.empty() ? "\"" : ", \"") + p + "\"";
    const std::string toml = fmt::format(
        "[calibration]\nT_max = {}\nrates_hz = [1.0, 2.0, 5.0]\n[calibration.inputs]\nltp_run = \"{}\"\n"
        "spatial_run = \"{}\"\ncalcium_runs = [{}]\n",
        kLtpCycles, runs.ltp, runs.spatial, calcium);
    const std::string path = dir + "/calibration.h5";
    std::filesystem::remove(path);
    calib::calibrate_to_file(Config::from_string(toml, "calibration.toml"), "", path, false);
    return path;
}

}  // namespace rmaat::fuzz
