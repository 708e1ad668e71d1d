#include "core/interrupt.hpp"

#include <csignal>

#include <atomic>

#include <fmt/format.h>

namespace rmaat {

namespace {

std::atomic<int> g_stop{0};
static_assert(std::atomic<int>::is_always_lock_free, "the signal handler needs a lock-free flag");

extern "C" void on_stop_signal(int sig) {
    if (g_stop.load() != 0) {  // asked twice: stop now
        std::signal(sig, SIG_DFL);
        std::raise(sig);
        return;
    }
    g_stop.store(sig);
}

}  // namespace

void install_stop_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    std::signal(SIGXFSZ, SIG_IGN);
}

int stop_signal() {
    return g_stop.load();
}

std::string signal_name(int signal) {
    switch (signal) {
        case SIGINT: return "SIGINT";
        case SIGTERM: return "SIGTERM";
        default: return fmt::format("signal {}", signal);
    }
}

void throw_if_stopped() {
    if (const int sig = g_stop.load()) throw Interrupted(sig, fmt::format("interrupted by {}", signal_name(sig)));
}

}  // namespace rmaat
