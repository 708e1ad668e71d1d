#pragma once
// `rmaat simulate`: runs the models a config names and writes one run file.
//
// Config layout: [run] models = names of kSimModels (sim/models.hpp; default: the models whose tables
// are present, all when none is), seed; then one table per model ([network], [calcium]). Everything is
// read and checked before any simulation starts, so a typo fails in milliseconds, not after an hour.
#include <string>

#include "core/config.hpp"
#include "core/output_file.hpp"
#include "sim/limits.hpp"

namespace rmaat::sim {

// The built-in demo config (examples/demo.toml, compiled in).
const char* demo_config_text();

// Reads, validates, checks each model's estimated work and output against `limits` (sim/limits.hpp),
// simulates, writes `out_path` (via "<out_path>.partial", renamed at the end).
// On an integration error the run file keeps what was recorded, is marked status = "failed: ..." and
// committed under its final name, and an IntegrationError naming the model and the run file is thrown;
// running out of memory does the same with a RunError that says what to reduce.
// With check_only, stops after reading and validating (nothing is written).
// The run file is written under a working name of its own (h5::File::create) and published at the end;
// `replace` says whether a file that appeared under out_path meanwhile is replaced (the CLI passes
// Replace::no unless --force; it refuses an existing out_path before starting). On SIGINT/SIGTERM
// (core/interrupt.hpp) the file stays under its working name, marked status = "interrupted", and
// Interrupted names it. On a write error (WriteError: full disk) the unfinished file is removed.
void simulate_to_file(const Config& cfg, const std::string& config_dir, const std::string& out_path, bool show_progress,
                      bool check_only = false, Replace replace = Replace::yes, const Limits& limits = {});

}  // namespace rmaat::sim
