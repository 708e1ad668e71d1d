#pragma once
// Minimal leveled logging to stderr: "rmaat: warning: ...". Level set once by the CLI.
#include <fmt/format.h>

#include <string>

namespace rmaat::log {

enum class Level { error = 0, warn = 1, info = 2, debug = 3 };
void set_level(Level l);
Level level();
void write(Level l, const std::string& msg);

template <typename... A>
void info(fmt::format_string<A...> f, A&&... a) {
    write(Level::info, fmt::format(f, std::forward<A>(a)...));
}
template <typename... A>
void warn(fmt::format_string<A...> f, A&&... a) {
    write(Level::warn, fmt::format(f, std::forward<A>(a)...));
}
template <typename... A>
void error(fmt::format_string<A...> f, A&&... a) {
    write(Level::error, fmt::format(f, std::forward<A>(a)...));
}
template <typename... A>
void debug(fmt::format_string<A...> f, A&&... a) {
    write(Level::debug, fmt::format(f, std::forward<A>(a)...));
}

}  // namespace rmaat::log
