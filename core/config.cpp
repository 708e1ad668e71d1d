#include "core/config.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "core/input_file.hpp"

namespace rmaat {

bool Range::contains(double v) const {
    if (std::isnan(v)) return false;
    if (std::isinf(v) && !infinity_allowed) return false;
    if (lo_open ? !(v > lo) : !(v >= lo)) return false;
    if (hi_open ? !(v < hi) : !(v <= hi)) return false;
    return true;
}

std::string Range::describe() const {
    const bool has_lo = std::isfinite(lo), has_hi = std::isfinite(hi);
    if (has_lo && has_hi) return fmt::format("in {}{}, {}{}", lo_open ? "(" : "[", lo, hi, hi_open ? ")" : "]");
    if (has_lo) return fmt::format("{} {}", lo_open ? ">" : ">=", lo);
    if (has_hi) return fmt::format("{} {}", hi_open ? "<" : "<=", hi);
    return infinity_allowed ? "a number" : "finite";
}

std::string Range::requirement(double v) const {
    const std::string d = describe();
    if (!std::isinf(v) || infinity_allowed || d == "finite") return d;
    return "finite and " + d;
}

std::size_t toml_nesting_depth(std::string_view text, std::size_t stop_above, std::size_t* line_out) {
    // A small state machine over the TOML grammar: where a key may start (line start at the top level,
    // after '{' or ',' inside an inline table) the dotted components are counted up to '='; in a value
    // only '[' and '{' nest. Strings (basic, literal, multi-line) and comments are skipped. toml++
    // stops at the first syntax error, so only a well-formed prefix of the text needs exact treatment.
    struct Frame {
        bool table;         // inline table (keys inside) or array (values inside)
        std::size_t depth;  // depth of the container itself; its keys or elements sit below it
    };
    std::vector<Frame> stack;
    const std::size_t n = text.size();
    std::size_t i = 0, line = 1, deepest = 0, deepest_line = 1;
    std::size_t header = 0;  // depth of the current [table] (its components; +1 for [[array]])
    std::size_t value = 0;   // depth of the value being read
    std::size_t parts = 1;   // components of the key being read
    bool in_key = true, line_start = true;
    auto note = [&](std::size_t d) {
        if (d > deepest) deepest = d, deepest_line = line;
    };
    // Skips a string starting at text[i]; returns with i just past it.
    auto skip_string = [&]() {
        const char q = text[i];
        const bool triple = i + 2 < n && text[i + 1] == q && text[i + 2] == q;
        i += triple ? 3 : 1;
        while (i < n) {
            const char c = text[i];
            if (c == '\\' && q == '"') {
                if (i + 1 < n && text[i + 1] == '\n') ++line;
                i += 2;
                continue;
            }
            if (c == '\n') {
                if (!triple) return;  // unterminated: toml++ reports it
                ++line;
            }
            if (c == q && (!triple || (i + 2 < n && text[i + 1] == q && text[i + 2] == q))) {
                i += triple ? 3 : 1;
                while (triple && i < n && text[i] == q) ++i;  // up to two quotes end the content
                return;
            }
            ++i;
        }
    };
    auto key_base = [&]() { return stack.empty() ? header : stack.back().depth; };
    while (i < n && deepest <= stop_above) {
        const char c = text[i];
        if (c == '\n') {
            ++line;
            ++i;
            if (stack.empty()) in_key = true, line_start = true, parts = 1;
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\r') {
            ++i;
            continue;
        }
        if (c == '#') {
            while (i < n && text[i] != '\n') ++i;
            continue;
        }
        if (line_start && stack.empty() && c == '[') {  // table header: [a.b] or [[a.b]]
            const bool array = i + 1 < n && text[i + 1] == '[';
            i += array ? 2 : 1;
            std::size_t comps = 1;
            while (i < n && text[i] != ']' && text[i] != '\n') {
                if (text[i] == '"' || text[i] == '\'') {
                    skip_string();
                    continue;
                }
                if (text[i] == '.') ++comps;
                ++i;
            }
            header = comps + (array ? 1 : 0);
            note(header);
            while (i < n && text[i] != '\n') ++i;  // the rest of the header line
            line_start = false;
            continue;
        }
        line_start = false;
        if (c == '"' || c == '\'') {
            skip_string();
            continue;
        }
        if (in_key) {
            if (c == '.') {
                note(key_base() + ++parts);
            } else if (c == '=') {
                value = key_base() + parts;
                note(value);
                in_key = false;
            } else if (c == '}' && !stack.empty()) {  // empty inline table
                value = stack.back().depth;
                stack.pop_back();
                in_key = false;
            }
            ++i;
            continue;
        }
        if (c == '[' || c == '{') {
            stack.push_back({c == '{', value});
            if (c == '{') {
                in_key = true, parts = 1;
            } else {
                value += 1;
                note(value);
            }
        } else if ((c == ']' || c == '}') && !stack.empty()) {
            value = stack.back().depth;
            stack.pop_back();
        } else if (c == ',' && !stack.empty()) {
            if (stack.back().table)
                in_key = true, parts = 1;
            else
                value = stack.back().depth + 1;
        }
        ++i;
    }
    if (line_out) *line_out = deepest_line;
    return deepest;
}

struct ConfigSection::State {
    std::string source;
    toml::table doc;
    toml::table resolved;
    std::set<std::string> used_keys;         // dotted paths of values asked for
    std::set<std::string> used_sections;     // dotted paths of tables opened
    std::set<std::string> ignored_sections;  // top-level tables another stage reads
};

namespace {

std::vector<std::string> split_path(const std::string& dotted) {
    std::vector<std::string> parts;
    std::stringstream ss(dotted);
    std::string p;
    while (std::getline(ss, p, '.'))
        if (!p.empty()) parts.push_back(p);
    return parts;
}

const toml::node* find_node(const toml::table& doc, const std::string& dotted) {
    const toml::node* n = &doc;
    for (const auto& part : split_path(dotted)) {
        const auto* t = n->as_table();
        if (!t) return nullptr;
        n = t->get(part);
        if (!n) return nullptr;
    }
    return n;
}

// Inserts value at a dotted path into the resolved table, creating tables on the way.
template <typename V>
void put_resolved(toml::table& root, const std::string& dotted, V&& value) {
    auto parts = split_path(dotted);
    toml::table* t = &root;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
        auto* child = t->get(parts[i]);
        if (!child || !child->is_table()) {
            t->insert_or_assign(parts[i], toml::table{});
            child = t->get(parts[i]);
        }
        t = child->as_table();
    }
    t->insert_or_assign(parts.back(), std::forward<V>(value));
}

size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (size_t j = 1; j <= b.size(); ++j)
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

std::string type_name(const toml::node& n) {
    switch (n.type()) {
        case toml::node_type::table: return "a table";
        case toml::node_type::array: return "an array";
        case toml::node_type::string: return "a string";
        case toml::node_type::integer: return "an integer";
        case toml::node_type::floating_point: return "a float";
        case toml::node_type::boolean: return "a boolean";
        default: return "a date/time";
    }
}

// A key whose name holds a dot (only possible quoted) or is empty.
std::string quoted_key_error(const std::string& source, int line, const std::string& prefix, const std::string& name,
                             bool table) {
    const std::string where = prefix.empty() ? "at the top level" : "in [" + prefix + "]";
    if (name.empty()) return fmt::format("{}:{}: unknown key \"\" {}: a key needs a name", source, line, where);
    return fmt::format(
        "{}:{}: unknown {} \"{}\" {}: the quotes make it one {} with a dot in its name, not the dotted {} {}{}; "
        "remove the quotes",
        source, line, table ? "table" : "key", name, where, table ? "table" : "key", table ? "table" : "key",
        prefix.empty() ? "" : prefix + ".", name);
}

}  // namespace

std::string ConfigSection::full_key(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

ConfigError ConfigSection::error(std::string_view key, std::string_view reason) const {
    const std::string full = full_key(key);
    const toml::node* n = find_node(state_->doc, full);
    if (n && n->source().begin.line > 0)
        return ConfigError(fmt::format("{}:{}: {}: {}", state_->source, n->source().begin.line, full, reason));
    return ConfigError(fmt::format("{}: {}: {}", state_->source, full, reason));
}

bool ConfigSection::has(std::string_view key) const {
    return find_node(state_->doc, full_key(key)) != nullptr;
}

ConfigSection ConfigSection::section(std::string_view name) const {
    const std::string full = full_key(name);
    if (const toml::node* n = find_node(state_->doc, full); n && !n->is_table())
        throw error(name, fmt::format("expected a table, got {}", type_name(*n)));
    state_->used_sections.insert(full);
    return ConfigSection(state_, full);
}

double ConfigSection::get_double(std::string_view key, double fallback, Range range) const {
    const std::string full = full_key(key);
    state_->used_keys.insert(full);
    double v = fallback;
    if (const toml::node* n = find_node(state_->doc, full)) {
        if (!n->is_number()) throw error(key, fmt::format("expected a number, got {}", type_name(*n)));
        v = n->value<double>().value();
    }
    if (!range.contains(v)) throw error(key, fmt::format("value {} out of range: must be {}", v, range.requirement(v)));
    put_resolved(state_->resolved, full, v);
    return v;
}

std::int64_t ConfigSection::get_int(std::string_view key, std::int64_t fallback, Range range) const {
    const std::string full = full_key(key);
    state_->used_keys.insert(full);
    std::int64_t v = fallback;
    if (const toml::node* n = find_node(state_->doc, full)) {
        if (!n->is_integer()) throw error(key, fmt::format("expected an integer, got {}", type_name(*n)));
        v = n->value<std::int64_t>().value();
    }
    if (!range.contains(static_cast<double>(v)))
        throw error(key, fmt::format("value {} out of range: must be {}", v, range.describe()));
    put_resolved(state_->resolved, full, v);
    return v;
}

bool ConfigSection::get_bool(std::string_view key, bool fallback) const {
    const std::string full = full_key(key);
    state_->used_keys.insert(full);
    bool v = fallback;
    if (const toml::node* n = find_node(state_->doc, full)) {
        if (!n->is_boolean()) throw error(key, fmt::format("expected true or false, got {}", type_name(*n)));
        v = n->value<bool>().value();
    }
    put_resolved(state_->resolved, full, v);
    return v;
}

static std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + ("\"" + v[i] + "\"");
    return s;
}

std::string ConfigSection::get_string(std::string_view key, std::string fallback,
                                      const std::vector<std::string>& choices) const {
    const std::string full = full_key(key);
    state_->used_keys.insert(full);
    std::string v = std::move(fallback);
    if (const toml::node* n = find_node(state_->doc, full)) {
        if (!n->is_string()) throw error(key, fmt::format("expected a string, got {}", type_name(*n)));
        v = n->value<std::string>().value();
    }
    if (!choices.empty() && std::find(choices.begin(), choices.end(), v) == choices.end())
        throw error(key, fmt::format("unknown value \"{}\": expected one of {}", v, join(choices)));
    put_resolved(state_->resolved, full, v);
    return v;
}

std::vector<double> ConfigSection::get_double_array(std::string_view key, std::vector<double> fallback,
                                                    Range element_range) const {
    const std::string full = full_key(key);
    state_->used_keys.insert(full);
    std::vector<double> v = std::move(fallback);
    if (const toml::node* n = find_node(state_->doc, full)) {
        const toml::array* a = n->as_array();
        if (!a) throw error(key, fmt::format("expected an array of numbers, got {}", type_name(*n)));
        v.clear();
        for (size_t i = 0; i < a->size(); ++i) {
            const toml::node& e = *a->get(i);
            if (!e.is_number()) throw error(key, fmt::format("element {}: expected a number, got {}", i, type_name(e)));
            v.push_back(e.value<double>().value());
        }
    }
    for (size_t i = 0; i < v.size(); ++i)
        if (!element_range.contains(v[i]))
            throw error(
                key, fmt::format("element {} = {} out of range: must be {}", i, v[i], element_range.requirement(v[i])));
    toml::array out;
    for (double d : v) out.push_back(d);
    put_resolved(state_->resolved, full, std::move(out));
    return v;
}

std::vector<std::string> ConfigSection::get_string_array(std::string_view key, std::vector<std::string> fallback,
                                                         const std::vector<std::string>& choices) const {
    const std::string full = full_key(key);
    state_->used_keys.insert(full);
    std::vector<std::string> v = std::move(fallback);
    if (const toml::node* n = find_node(state_->doc, full)) {
        const toml::array* a = n->as_array();
        if (!a) throw error(key, fmt::format("expected an array of strings, got {}", type_name(*n)));
        v.clear();
        for (size_t i = 0; i < a->size(); ++i) {
            const toml::node& e = *a->get(i);
            if (!e.is_string()) throw error(key, fmt::format("element {}: expected a string, got {}", i, type_name(e)));
            v.push_back(e.value<std::string>().value());
        }
    }
    for (const auto& s : v)
        if (!choices.empty() && std::find(choices.begin(), choices.end(), s) == choices.end())
            throw error(key, fmt::format("unknown value \"{}\": expected one of {}", s, join(choices)));
    toml::array out;
    for (const auto& s : v) out.push_back(s);
    put_resolved(state_->resolved, full, std::move(out));
    return v;
}

void check_toml_bounds(std::string_view text, const std::string& source) {
    if (text.size() > kMaxConfigBytes)
        throw ConfigError(fmt::format("{}: {} bytes of config, more than the limit of {} MiB", source, text.size(),
                                      kMaxConfigBytes >> 20));
    std::size_t line = 0;
    if (toml_nesting_depth(text, kMaxConfigNesting, &line) > kMaxConfigNesting)
        throw ConfigError(
            fmt::format("{}:{}: tables, keys and arrays nested more than {} levels deep (the limit); "
                        "an rmaat config needs a handful",
                        source, line, kMaxConfigNesting));
}

Config Config::from_string(std::string_view text, std::string source_name) {
    auto st = std::make_shared<ConfigSection::State>();
    st->source = std::move(source_name);
    check_toml_bounds(text, st->source);
    try {
        st->doc = toml::parse(text, st->source);
    } catch (const toml::parse_error& e) {
        throw ConfigError(fmt::format("{}:{}:{}: malformed TOML: {}", st->source, e.source().begin.line,
                                      e.source().begin.column, e.description()));
    }
    return Config(std::move(st));
}

Config Config::from_file(const std::string& path) {
    std::string text;
    try {
        text = read_regular_file(path, kMaxConfigBytes, "config file");
    } catch (const InputError& e) {
        throw ConfigError(e.what());
    }
    return from_string(text, path);
}

ConfigSection Config::root() const {
    return ConfigSection(state_, "");
}

const std::string& Config::source_name() const {
    return state_->source;
}

void Config::ignore_section(const std::string& name) const {
    state_->ignored_sections.insert(name);
}

void Config::check_all_used() const {
    const auto& st = *state_;
    std::string first_error;
    int first_line = 0;
    auto consider = [&](int line, std::string msg) {
        if (first_error.empty() || line < first_line) {
            first_error = std::move(msg);
            first_line = line;
        }
    };
    auto hint = [&](const std::string& prefix, const std::string& name) -> std::string {
        std::string best;
        size_t best_d = 3;
        for (const auto& k : st.used_keys) {
            const auto dot = k.rfind('.');
            const std::string kp = dot == std::string::npos ? "" : k.substr(0, dot);
            const std::string kn = dot == std::string::npos ? k : k.substr(dot + 1);
            if (kp != prefix) continue;
            const size_t d = edit_distance(kn, name);
            if (d < best_d) best_d = d, best = kn;
        }
        return best.empty() ? "" : fmt::format(" (did you mean '{}'?)", best);
    };
    std::function<void(const toml::table&, const std::string&)> walk = [&](const toml::table& t,
                                                                           const std::string& prefix) {
        for (const auto& [k, node] : t) {
            const std::string name(k.str());
            const std::string full = prefix.empty() ? name : prefix + "." + name;
            const int line = static_cast<int>(node.source().begin.line);
            if (name.empty() || name.find('.') != std::string::npos) {
                // A getter's dotted path never reaches it, yet its full name looks like one it asked for.
                consider(line, quoted_key_error(st.source, line, prefix, name, node.is_table()));
                continue;
            }
            if (node.is_table()) {
                if (st.ignored_sections.count(full)) continue;
                if (!st.used_sections.count(full))
                    consider(line, fmt::format("{}:{}: unknown section [{}]", st.source, line, full));
                else
                    walk(*node.as_table(), full);
            } else if (!st.used_keys.count(full)) {
                consider(line, fmt::format("{}:{}: unknown key '{}'{}", st.source, line, full, hint(prefix, name)));
            }
        }
    };
    walk(st.doc, "");
    if (!first_error.empty()) throw ConfigError(first_error);
}

std::string Config::resolved_text() const {
    std::ostringstream os;
    os << state_->resolved;
    return os.str();
}

}  // namespace rmaat
