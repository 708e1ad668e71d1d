// Writes the seed corpora of the fuzz targets (docs/design.md section 9) into DIR/<target>/:
//   config             examples/*.toml and fuzz/seeds/config/*.toml
//   run_file           small run files (fuzz/support.hpp) and a calibration file
//   calibration_file   a calibration file, and a run file that is not one
//   data               the fixtures of tests/data, each behind the byte that picks its reader (fuzz_data.cpp)
// Usage: make_seeds SOURCE_DIR DIR. Built and run by the build (target fuzz_seed_corpora).
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
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

// fuzz_data's seeds: the format byte (fuzz/fuzz_data.cpp), then a fixture file of that format.
struct DataSeed {
    char format;
    const char* fixture;  // under tests/data
};
constexpr DataSeed kDataSeeds[] = {
    {0, "listops/good_crlf.tsv"},
    {0, "listops/problems.tsv"},
    {0, "listops/multi_digit.tsv"},
    {1, "imdb/imdb.tsv"},
    {1, "imdb/malformed/label_word.tsv"},
    {2, "aan/new_aan_pairs.eval.tsv"},
    {3, "cifar10/data_batch_2.bin"},
    {3, "cifar10/data_batch_1.bin.gz"},
    {4, "fashion_mnist/train-images-idx3-ubyte"},
    {4, "fashion_mnist/t10k-images-idx3-ubyte.gz"},
    {5, "fashion_mnist/train-labels-idx1-ubyte"},
    {6, "pathfinder/good/imgs/0/sample_0.png"},
    {7, "pathfinder/good/metadata/0.npy"},
};

void write_data_seeds(const fs::path& src, const fs::path& to) {
    int i = 0;
    for (const auto& seed : kDataSeeds) {
        std::ifstream in(src / "tests" / "data" / seed.fixture, std::ios::binary);
        if (!in) throw std::runtime_error(std::string("cannot read the fixture tests/data/") + seed.fixture);
        const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        std::ofstream out(to / ("seed_" + std::to_string(i++)), std::ios::binary);
        out << seed.format << bytes;
        if (!out) throw std::runtime_error("cannot write " + (to / "seed").string());
    }
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
        for (const char* t : {"config", "run_file", "calibration_file", "data"}) fs::create_directories(out / t);
        write_data_seeds(src, out / "data");
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
