#pragma once
// Shared by the libFuzzer targets (fuzz/*.cpp) and their seed generator (docs/design.md section 9):
// the oracle, scratch files, and small valid run and calibration files written by the real code paths
// (`rmaat simulate`, `rmaat calibrate`).
//
// The oracle: a reader may reject its input only with an InputError (ConfigError, h5::Error,
// calib::CalibrationError: exit 2 with a message naming the place). Any other exception escapes the
// target, libFuzzer reports it as a crash (like ASan and UBSan findings), and the input is kept.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace rmaat::fuzz {

// Log errors only (a rejected input is the expected outcome, not news), no progress bars.
void quiet();

// A private scratch directory (under $TMPDIR, else /tmp), removed with its files at exit.
const std::string& scratch_dir();

// Replaces `path` with the bytes given.
void write_bytes(const std::string& path, const std::uint8_t* data, std::size_t size);

// Runs `read`; an InputError is a rejected input (fine), anything else propagates (a crash).
// Returns whether `read` accepted the input.
template <typename F>
bool accepts(F&& read) {
    try {
        read();
        return true;
    } catch (const InputError&) {
        return false;
    }
}

// Small run files, written by sim::simulate_to_file as `rmaat simulate` writes them (traces recorded
// every second; the build repacks the seed copies to contiguous layout, a few kB each):
//   ltp       network run, 3x3 grid, fixed protocol, kLtpCycles cycles (an LTP curve for T_max <= kLtpCycles)
//   spatial   network run, focal protocol on a line of 9 synapses, one cycle
//   calcium   calcium runs of 12 s at rest and at 1, 2 and 5 Hz (one consistent sweep)
inline constexpr int kLtpCycles = 8;
struct RunFiles {
    std::string ltp, spatial;
    std::vector<std::string> calcium;  // rest first
};
// The names of the run files in `dir` (ltp.h5, spatial.h5, calcium_<f>Hz.h5).
RunFiles run_files_in(const std::string& dir);
// Simulates them into `dir`.
RunFiles write_run_files(const std::string& dir);
// A calibration file (T_max = kLtpCycles) written by calib::calibrate_to_file from `runs`.
std::string write_calibration_file(const std::string& dir, const RunFiles& runs);

}  // namespace rmaat::fuzz
