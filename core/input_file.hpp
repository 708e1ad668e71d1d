#pragma once
// Reading a small input file (a config, a coordinate file) without trusting it (docs/design.md
// section 7.2): only a regular file is read, and never more than a bound. A FIFO, a device such as
// /dev/zero, a socket or a directory is refused before anything is read (the file is opened
// non-blocking and checked with fstat, so a FIFO without a writer cannot hang the open either).
#include <cstdint>
#include <string>
#include <string_view>

namespace rmaat {

// The whole file. Throws InputError naming the path and the reason: cannot open, not a regular file
// (and what it is), larger than `max_bytes` (`what` names the kind of file, e.g. "config file").
std::string read_regular_file(const std::string& path, std::uint64_t max_bytes, std::string_view what);

}  // namespace rmaat
