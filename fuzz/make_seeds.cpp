// Writes the seed corpora of the fuzz targets (docs/design.md section 9) into DIR/<target>/:
//   config             examples/*.toml and fuzz/seeds/config/*.toml
//   run_file           small run files (fuzz/support.hpp) and a calibration file
//   calibration_file   a calibration file, and a run file that is not one
// Usage: make_seeds SOURCE_DIR DIR. Built and run by the build (target fuzz_seed_corpora).
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>

#include "fuzz/support.hpp"

namespace fs = std::filesystem;

namespace {

void copy_tomls(const fs::path& from, const fs::path& to) {
    for (const auto& e : fs::directory_iterator(from))
        if (e.path().extension() == ".toml")
            fs::copy_file(e.path(), to / e.path().filename(), fs::copy_options::overwrite_existing);
}

void copy_into(const std::string& file, const fs::path& to) {
    fs::copy_file(file, to / fs::path(file).filename(), fs::copy_options::overwrite_existing);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s SOURCE_DIR DIR\n", argv[0]);
        return 2;
    }
    try {
        rmaat::fuzz::quiet();
        const fs::path src = argv[1], out = argv[2];
        for (const char* t : {"config", "run_file", "calibration_file"}) fs::create_directories(out / t);
        copy_tomls(src / "examples", out / "config");
        copy_tomls(src / "fuzz" / "seeds" / "config", out / "config");

        const fs::path runs_dir = out / "run_file";
        const rmaat::fuzz::RunFiles runs = rmaat::fuzz::write_run_files(runs_dir.string());
        const std::string calibration = rmaat::fuzz::write_calibration_file((out / "calibration_file").string(), runs);
        copy_into(calibration, runs_dir);
        fs::remove(out / "calibration_file" / "calibration.summary.txt");
        copy_into(runs.ltp, out / "calibration_file");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "make_seeds: %s\n", e.what());
        return 1;
    }
    return 0;
}
