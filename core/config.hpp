#pragma once
// Strict TOML configuration reading.
//
// Every value is read through a ConfigSection getter that names its default and its valid range.
// Values read (or defaulted) are copied into the resolved config, which is what run files store.
// After reading, Config::check_all_used() turns every key nobody asked for into an error naming the
// key and its line, so a typo never silently falls back to a default.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace rmaat {

// A config problem: the message names the file, the line, the key and the reason.
struct ConfigError : InputError {
    using InputError::InputError;
};

// Valid interval for a number. Open ends exclude the bound. Infinity is outside every range (inf
// would pass "> 0" and then run forever or overflow) unless the range allows it: a key whose
// documentation gives inf a meaning uses `allowing_infinity()`. NaN is outside every range.
struct Range {
    double lo = -std::numeric_limits<double>::infinity();
    double hi = std::numeric_limits<double>::infinity();
    bool lo_open = false;
    bool hi_open = false;
    bool infinity_allowed = false;

    static Range any() { return {}; }
    static Range positive() { return {0.0, std::numeric_limits<double>::infinity(), true, false}; }
    static Range non_negative() { return {0.0, std::numeric_limits<double>::infinity(), false, false}; }
    static Range closed(double a, double b) { return {a, b, false, false}; }
    static Range at_least(double a) { return {a, std::numeric_limits<double>::infinity(), false, false}; }

    Range allowing_infinity() const {
        Range r = *this;
        r.infinity_allowed = true;
        return r;
    }

    bool contains(double v) const;
    std::string describe() const;  // e.g. "> 0", "in [0, 1]", "finite"
    // What a value must be, for the message about `v`: "finite and > 0" when v is infinite.
    std::string requirement(double v) const;
};

// Bounds on what a config may be before it is parsed (docs/design.md section 7.2): toml++ recurses
// once per nesting level, so a header nested 40,000 deep would overflow the stack.
inline constexpr std::size_t kMaxConfigBytes = 16u << 20;  // 16 MiB
inline constexpr std::size_t kMaxConfigNesting = 64;       // tables, dotted keys, arrays, inline tables

// The deepest nesting a TOML text builds: the components of each table header and dotted key plus
// the arrays and inline tables around each value (`[a.b]` then `c.d = [1]` reaches 5). One pass over
// the text that skips strings and comments; stops early once `stop_above` is exceeded. `line`
// receives the line where the deepest (or the first too deep) value sits.
std::size_t toml_nesting_depth(std::string_view text, std::size_t stop_above, std::size_t* line = nullptr);
// ConfigError naming `source` (and the line) when `text` is larger than kMaxConfigBytes or nested deeper
// than kMaxConfigNesting. Every TOML text is checked so before toml++ parses it (configs, and the
// configs stored in run files).
void check_toml_bounds(std::string_view text, const std::string& source);

class Config;

// A view of one table of the config ("network", "network.protocol", ...).
class ConfigSection {
public:
    double get_double(std::string_view key, double fallback, Range range = Range::any()) const;
    std::int64_t get_int(std::string_view key, std::int64_t fallback, Range range = Range::any()) const;
    bool get_bool(std::string_view key, bool fallback) const;
    // `choices` empty: any string.
    std::string get_string(std::string_view key, std::string fallback,
                           const std::vector<std::string>& choices = {}) const;
    std::vector<double> get_double_array(std::string_view key, std::vector<double> fallback,
                                         Range element_range = Range::any()) const;
    std::vector<std::string> get_string_array(std::string_view key, std::vector<std::string> fallback,
                                              const std::vector<std::string>& choices = {}) const;

    bool has(std::string_view key) const;
    ConfigSection section(std::string_view name) const;
    const std::string& path() const { return path_; }

    // A ConfigError for `key` of this section: "<file>:<line>: <section.key>: <reason>".
    ConfigError error(std::string_view key, std::string_view reason) const;

private:
    friend class Config;
    struct State;
    ConfigSection(std::shared_ptr<State> state, std::string path) : state_(std::move(state)), path_(std::move(path)) {}
    std::string full_key(std::string_view key) const;
    std::shared_ptr<State> state_;
    std::string path_;  // dotted path of this table, "" for the root
};

class Config {
public:
    // Parse errors become ConfigError with the file, line and column. The file must be a regular file
    // of at most kMaxConfigBytes (not a FIFO or a device), the text nested at most kMaxConfigNesting deep.
    static Config from_file(const std::string& path);
    static Config from_string(std::string_view text, std::string source_name);

    ConfigSection root() const;
    ConfigSection section(std::string_view name) const { return root().section(name); }

    // Errors on the first key (in file order) that no getter asked for, with the line and a hint. A
    // quoted key with a dot in it ("params.tau_n" = 1) is one key of that name, never the dotted key
    // params.tau_n that a getter asks for: it is an unknown key, and the message says so.
    void check_all_used() const;
    // Marks a top-level table as belonging to another stage (e.g. [calibration] while simulating), so
    // check_all_used() leaves it alone; that stage checks it.
    void ignore_section(const std::string& name) const;

    // The config with every value that was read or defaulted, as TOML text.
    std::string resolved_text() const;
    const std::string& source_name() const;

private:
    explicit Config(std::shared_ptr<ConfigSection::State> s) : state_(std::move(s)) {}
    std::shared_ptr<ConfigSection::State> state_;
};

}  // namespace rmaat
