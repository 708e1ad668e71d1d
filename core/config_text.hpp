#pragma once
// Reading and cutting resolved config text (TOML). Run files store the resolved config of their run as
// text (root attribute `config`, docs/design.md section 7); the calibration compares the tables of its
// input runs and records the config of every simulation it runs itself, cut from its own config.
//
//   flatten(text, "calcium", file)  ->  {"calcium.duration_s": "300", "calcium.params.O_P": "0.9", ...}
//   cut_table(text, "calibration.ltp", "network")  ->  "[network]\ncycles = 64\n..."
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace rmaat::config_text {

// Every value under the table `table` (dotted path), flattened to "table.key.subkey" -> value text:
// numbers in their shortest round-trip form ("0.9", "45", "1e-08"), strings quoted, arrays as "[a, b]".
// Empty when the text has no such table. ConfigError naming `source` when the text is not TOML.
std::map<std::string, std::string> flatten(std::string_view text, const std::string& table, const std::string& source);

// A value to set in a cut table: dotted key below the new root ("input.rate_hz").
struct Override {
    std::string key;
    std::variant<double, std::string> value;
};

// The table `table` of `text`, re-rooted as the top-level table `as` ("calibration.calcium" ->
// "calcium"), with `overrides` applied, as TOML text. An empty table when `text` has none.
// ConfigError naming `source` when the text is not TOML.
std::string cut_table(std::string_view text, const std::string& table, const std::string& as,
                      const std::vector<Override>& overrides = {}, const std::string& source = "config");

}  // namespace rmaat::config_text
