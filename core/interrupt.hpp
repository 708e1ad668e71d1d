#pragma once
// Stopping a run cleanly on SIGINT or SIGTERM (docs/design.md section 7.4).
//
// The handlers only set a flag; long loops (the simulation models' cycle and segment loops) call
// throw_if_stopped() at their safe points, between recorded rows, and the caller that owns the output
// marks it "interrupted" and keeps it. The process then exits with 128 + the signal number (130 for
// SIGINT, 143 for SIGTERM). A second signal ends the process at once, as if no handler were there.
#include <string>

#include "core/error.hpp"

namespace rmaat {

// A run stopped by a signal at a safe point. A RunError (the run did not finish); the CLI exits with
// 128 + signal.
struct Interrupted : RunError {
    Interrupted(int signal, const std::string& msg) : RunError(msg), signal(signal) {}
    int signal;
};

// Installs the SIGINT and SIGTERM handlers, and ignores SIGXFSZ so that a file size limit is a write
// error with a message rather than a silent kill.
void install_stop_handlers();
// The signal that asked the run to stop, 0 when none has.
int stop_signal();
// Throws Interrupted when a stop was asked for.
void throw_if_stopped();
// "SIGINT", "SIGTERM", "signal 7".
std::string signal_name(int signal);

}  // namespace rmaat
