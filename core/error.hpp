#pragma once
// The two roots of every error rmaat throws (docs/design.md section 7.4). The CLI catches the two
// roots, whatever stage threw:
//   InputError  the input is wrong: a config, an argument, a data, run or calibration file. Exit 2.
//               The message names the place (file, line, key, dataset) and the reason.
//   RunError    valid input, but the run failed: an integration blew up, a fit did not converge.
//               Exit 1. What was produced up to then is kept where possible.
// Anything else that escapes is a bug in rmaat (exit 1, reported as an internal error).
#include <stdexcept>

namespace rmaat {

struct InputError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct RunError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

}  // namespace rmaat
