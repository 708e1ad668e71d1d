#include "core/progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>

#include <fmt/format.h>

namespace rmaat {

namespace {
std::atomic<bool> g_enabled{true};

std::string format_duration(double s) {
    if (!(s >= 0) || s > 1e7) return "--:--";
    const long t = static_cast<long>(s + 0.5);
    if (t >= 3600) return fmt::format("{}:{:02}:{:02}", t / 3600, (t / 60) % 60, t % 60);
    return fmt::format("{:02}:{:02}", t / 60, t % 60);
}
}  // namespace

void Progress::set_enabled_globally(bool on) {
    g_enabled = on;
}

Progress::Progress(std::string label, double total, std::string unit, bool enabled)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      enabled_(enabled && g_enabled),
      tty_(isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() {
    finish();
}

void Progress::update(double done) {
    if (!enabled_ || finished_) return;
    const auto now = std::chrono::steady_clock::now();
    const double since_draw = std::chrono::duration<double>(now - last_draw_).count();
    const double frac = total_ > 0 ? std::clamp(done / total_, 0.0, 1.0) : 1.0;
    if (tty_) {
        if (since_draw < 0.1) return;
    } else if (frac - last_reported_fraction_ < 0.1 && since_draw < 30.0) {
        return;
    }
    last_draw_ = now;
    last_reported_fraction_ = frac;
    draw(done, false);
}

void Progress::finish() {
    if (!enabled_ || finished_) return;
    finished_ = true;
    if (!tty_ && last_reported_fraction_ >= 1.0) return;  // the 100% line is already out
    draw(total_, true);
}

void Progress::draw(double done, bool final) {
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double frac = total_ > 0 ? std::clamp(done / total_, 0.0, 1.0) : 1.0;
    const double rate = elapsed > 0 ? done / elapsed : 0.0;
    const double eta = rate > 0 ? (total_ - done) / rate : -1.0;
    if (tty_) {
        const int width = 30, filled = static_cast<int>(frac * width);
        std::string bar(filled, '#');
        bar.resize(width, '.');
        fmt::print(stderr, "\r{} [{}] {:5.1f}% {:.3g} {}/s elapsed {} eta {}{}{}   ", label_, bar, 100 * frac, rate,
                   unit_, format_duration(elapsed), final ? "00:00" : format_duration(eta), note_.empty() ? "" : " ",
                   note_);
        if (final) fmt::print(stderr, "\n");
    } else {
        fmt::print(stderr, "{}: {:.1f}% ({:.4g}/{:.4g} {}), {:.3g} {}/s, elapsed {}, eta {}{}{}\n", label_, 100 * frac,
                   done, total_, unit_, rate, unit_, format_duration(elapsed), final ? "00:00" : format_duration(eta),
                   note_.empty() ? "" : ", ", note_);
    }
    std::fflush(stderr);
}

}  // namespace rmaat
