#pragma once
// `rmaat train --nproc N`: N data-parallel ranks on this machine (docs/design.md section 6.5).
//
// The launcher re-executes this program N times with the standard environment (RANK, WORLD_SIZE,
// LOCAL_RANK) and RMAAT_STORE_FILE, a FileStore in a fresh private directory, so no port has to be
// free. The ranks run in their own process group (a terminal's Ctrl-C reaches them once, forwarded by
// the launcher) and get SIGTERM when the launcher dies. Unless OMP_NUM_THREADS is set, each rank gets
// OMP_NUM_THREADS = cores / N, the default of a config's `threads = 0`. When one rank fails, the others are sent
// SIGTERM (they checkpoint at the next step boundary if they can) and, after `grace_s`, SIGKILL.
// Returns the exit code: 0 when every rank succeeded, else the first failing rank's code (128 + signal
// for a rank killed by a signal).
#include <string>
#include <vector>

namespace rmaat::trainer {

int launch_local(int nproc, const std::vector<std::string>& rank_args, double grace_s);

}  // namespace rmaat::trainer
