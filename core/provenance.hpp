#pragma once
// Root attributes every run file carries: tool version, git commit, UTC time, command line,
// resolved config text and seed (docs/design.md section 7).
#include <cstdint>
#include <string>
#include <vector>

#include "core/h5_store.hpp"

namespace rmaat {

// Set once by main(); stored in every run file.
void set_command_line(int argc, char** argv);
const std::string& command_line();
// The arguments after the program's name, as given (`rmaat train --nproc` re-runs them per rank).
const std::vector<std::string>& command_args();
std::string utc_now_iso8601();

void write_provenance(const h5::Group& root, const std::string& resolved_config, std::uint64_t seed);

}  // namespace rmaat
