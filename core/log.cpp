#include "core/log.hpp"

#include <atomic>
#include <cstdio>

namespace rmaat::log {

namespace {
std::atomic<int> g_level{static_cast<int>(Level::info)};
}

void set_level(Level l) {
    g_level = static_cast<int>(l);
}
Level level() {
    return static_cast<Level>(g_level.load());
}

void write(Level l, const std::string& msg) {
    if (static_cast<int>(l) > g_level) return;
    static const char* const prefix[] = {"error: ", "warning: ", "", "debug: "};
    fmt::print(stderr, "rmaat: {}{}\n", prefix[static_cast<int>(l)], msg);
    std::fflush(stderr);
}

}  // namespace rmaat::log
