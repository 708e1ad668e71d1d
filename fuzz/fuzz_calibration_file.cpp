// libFuzzer target: the calibration-file reader the trainer uses (calib::read_calibration,
// calibration/calibration_reader.hpp; docs/design.md sections 4, 7.3 and 9). The bytes are written to a
// scratch file and read for 1 and for 8 segments.
// Oracle (fuzz/support.hpp): a file is rejected with an InputError (CalibrationError, h5::Error) or
// accepted; anything else is a crash. What an accepted file gives must keep the reader's promises: an RF
// table covering the segments asked for with every RF(t, T) in [0, 1], scale finite and >= 0, alpha
// finite and > 0.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "calibration/calibration_reader.hpp"
#include "fuzz/h5_mutator.hpp"
#include "fuzz/support.hpp"

using namespace rmaat;

namespace {

std::string input;

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz_calibration_file: an accepted calibration breaks a promise: %s\n", what);
    std::abort();
}

void check(const MacroParameters& p, int segments) {
    if (p.T_max() < segments) fail("the RF table covers fewer segments than asked for");
    for (int T = 1; T <= p.T_max(); ++T)
        for (int t = 1; t <= T; ++t)
            if (!(p.retention(t, T) >= 0 && p.retention(t, T) <= 1)) fail("RF(t, T) outside [0, 1]");
    if (!(std::isfinite(p.scale) && p.scale >= 0)) fail("scale not finite and >= 0");
    if (!(std::isfinite(p.alpha) && p.alpha > 0)) fail("alpha not finite and > 0");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    fuzz::quiet();
    input = fuzz::scratch_dir() + "/input.h5";
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::write_bytes(input, data, size);
    for (int segments : {1, 8}) fuzz::accepts([&] { check(calib::read_calibration(input, segments), segments); });
    return 0;
}

extern "C" std::size_t LLVMFuzzerCustomMutator(std::uint8_t* data, std::size_t size, std::size_t max_size,
                                               unsigned int seed) {
    return fuzz::mutate_hdf5(data, size, max_size, seed);
}
