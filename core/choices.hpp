#pragma once
// One table per family of choices (model kinds, attention kinds, retention modes, LTP curve models,
// sim models): the names a config accepts, their one-line help, the value they parse to and the
// "known: ..." error all come from the same rows, so adding a choice is adding a row.
//
//   inline constexpr Choice<Retention> kRetentionRows[] = {
//       {Retention::paper, "paper", "mem_{t+1} = RF(t, T) mem'"}, ...};
//   inline constexpr ChoiceTable kRetention{"retention mode", kRetentionRows};
//   Retention r = kRetention.parse("blend");         // InputError naming the family and the known names
//   section.get_string("retention", "paper", kRetention.names());   // config validation
#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace rmaat {

template <typename E>
struct Choice {
    E value;
    const char* name;
    const char* help;
};

template <typename E, std::size_t N>
class ChoiceTable {
public:
    constexpr ChoiceTable(const char* family, const Choice<E> (&rows)[N]) : family_(family), rows_(rows) {}

    // The value called `name`; InputError "unknown <family> "x" (known: a, b, c)" otherwise.
    E parse(std::string_view name) const {
        for (const auto& r : *this)
            if (name == r.name) return r.value;
        throw InputError("unknown " + std::string(family_) + " \"" + std::string(name) + "\" (known: " + known() +
                         ")");
    }
    bool contains(std::string_view name) const {
        for (const auto& r : *this)
            if (name == r.name) return true;
        return false;
    }
    const char* name(E value) const {
        for (const auto& r : *this)
            if (r.value == value) return r.name;
        return "?";
    }
    std::vector<std::string> names() const {
        std::vector<std::string> v;
        for (const auto& r : *this) v.emplace_back(r.name);
        return v;
    }
    // "a, b, c"
    std::string known() const {
        std::string s;
        for (const auto& r : *this) s += (s.empty() ? "" : ", ") + std::string(r.name);
        return s;
    }
    // One line per choice: "  name  help" (for --help texts and config documentation).
    std::string help() const {
        std::size_t w = 0;
        for (const auto& r : *this) w = std::max(w, std::string_view(r.name).size());
        std::string s;
        for (const auto& r : *this) {
            std::string n(r.name);
            s += "  " + n + std::string(w - n.size() + 2, ' ') + r.help + "\n";
        }
        return s;
    }
    const Choice<E>* begin() const { return rows_; }
    const Choice<E>* end() const { return rows_ + N; }
    const char* family() const { return family_; }

private:
    const char* family_;
    const Choice<E>* rows_;
};

}  // namespace rmaat
