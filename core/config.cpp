#include "core/config.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include <fmt/format.h>

namespace rmaat {

bool Range::contains(double v) const {
    if (std::isnan(v)) return false;
    if (lo_open ? !(v > lo) : !(v >= lo)) return false;
    if (hi_open ? !(v < hi) : !(v <= hi)) return false;
    return true;
}

std::string Range::describe() const {
    const bool has_lo = std::isfinite(lo), has_hi = std::isfinite(hi);
    if (has_lo && has_hi) return fmt::format("in {}{}, {}{}", lo_open ? "(" : "[", lo, hi, hi_open ? ")" : "]");
    if (has_lo) return fmt::format("{} {}", lo_open ? ">" : ">=", lo);
    if (has_hi) return fmt::format("{} {}", hi_open ? "<" : "<=", hi);
    return "finite";
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
    if (!range.contains(v)) throw error(key, fmt::format("value {} out of range: must be {}", v, range.describe()));
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
            throw error(key,
                        fmt::format("element {} = {} out of range: must be {}", i, v[i], element_range.describe()));
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

Config Config::from_string(std::string_view text, std::string source_name) {
    auto st = std::make_shared<ConfigSection::State>();
    st->source = std::move(source_name);
    try {
        st->doc = toml::parse(text, st->source);
    } catch (const toml::parse_error& e) {
        throw ConfigError(fmt::format("{}:{}:{}: malformed TOML: {}", st->source, e.source().begin.line,
                                      e.source().begin.column, e.description()));
    }
    return Config(std::move(st));
}

Config Config::from_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ConfigError(fmt::format("{}: cannot open config file", path));
    std::stringstream ss;
    ss << in.rdbuf();
    return from_string(ss.str(), path);
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
