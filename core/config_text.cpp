#include "core/config_text.hpp"

#include <toml++/toml.h>

#include <sstream>

#include <fmt/format.h>

#include "core/config.hpp"

namespace rmaat::config_text {

namespace {

toml::table parse(std::string_view text, const std::string& source) {
    check_toml_bounds(text, source + " (stored config)");  // run files are hostile input (docs/design.md section 7.3)
    try {
        return toml::parse(text, source);
    } catch (const toml::parse_error& e) {
        throw ConfigError(fmt::format("{}: stored config is not valid TOML (line {}): {}", source,
                                      e.source().begin.line, e.description()));
    }
}

std::vector<std::string> split(const std::string& dotted) {
    std::vector<std::string> parts;
    std::stringstream ss(dotted);
    for (std::string p; std::getline(ss, p, '.');)
        if (!p.empty()) parts.push_back(p);
    return parts;
}

// The table at a dotted path, or null.
const toml::table* find_table(const toml::table& root, const std::string& dotted) {
    const toml::table* t = &root;
    for (const auto& part : split(dotted)) {
        const toml::node* n = t->get(part);
        t = n ? n->as_table() : nullptr;
        if (!t) return nullptr;
    }
    return t;
}

std::string value_text(const toml::node& n) {
    if (const auto* a = n.as_array()) {
        std::string s;
        for (const auto& e : *a) s += (s.empty() ? "" : ", ") + value_text(e);
        return "[" + s + "]";
    }
    if (const auto* v = n.as_string()) return "\"" + v->get() + "\"";
    if (const auto* v = n.as_integer()) return fmt::format("{}", v->get());
    if (const auto* v = n.as_floating_point()) return fmt::format("{}", v->get());
    if (const auto* v = n.as_boolean()) return v->get() ? "true" : "false";
    std::ostringstream os;  // dates and times
    n.visit([&](const auto& x) { os << x; });
    return os.str();
}

void flatten_into(const toml::table& t, const std::string& prefix, std::map<std::string, std::string>& out) {
    for (const auto& [k, node] : t) {
        const std::string key = prefix + "." + std::string(k.str());
        if (const auto* sub = node.as_table())
            flatten_into(*sub, key, out);
        else
            out[key] = value_text(node);
    }
}

// Sets a dotted key below `root`, creating tables on the way.
void set(toml::table& root, const Override& o) {
    const auto parts = split(o.key);
    toml::table* t = &root;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
        if (!t->get(parts[i]) || !t->get(parts[i])->is_table()) t->insert_or_assign(parts[i], toml::table{});
        t = t->get(parts[i])->as_table();
    }
    std::visit([&](const auto& v) { t->insert_or_assign(parts.back(), v); }, o.value);
}

}  // namespace

std::map<std::string, std::string> flatten(std::string_view text, const std::string& table, const std::string& source) {
    const toml::table doc = parse(text, source);
    std::map<std::string, std::string> out;
    if (const toml::table* t = find_table(doc, table)) flatten_into(*t, table, out);
    return out;
}

std::string cut_table(std::string_view text, const std::string& table, const std::string& as,
                      const std::vector<Override>& overrides, const std::string& source) {
    const toml::table doc = parse(text, source);
    const toml::table* t = find_table(doc, table);
    toml::table cut = t ? *t : toml::table{};
    for (const auto& o : overrides) set(cut, o);
    toml::table out;
    out.insert_or_assign(as, std::move(cut));
    std::ostringstream os;
    os << out;
    return os.str() + "\n";
}

}  // namespace rmaat::config_text
