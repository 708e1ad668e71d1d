#pragma once
// Progress indicator for long work: a bar with rate and ETA on a terminal, plain lines otherwise
// (every 10% or 30 s), so logs of batch jobs stay readable.
#include <chrono>
#include <cstdio>
#include <string>

namespace rmaat {

class Progress {
public:
    // `total` units of work (e.g. simulated seconds), `unit` names them in the rate ("s", "cycles").
    Progress(std::string label, double total, std::string unit, bool enabled = true);
    ~Progress();
    void update(double done);
    // Extra text after the rate and ETA (e.g. the current loss); drawn at the next update.
    void note(std::string text) { note_ = std::move(text); }
    void finish();

    static void set_enabled_globally(bool on);  // --quiet turns all bars off

private:
    void draw(double done, bool final);
    std::string label_, unit_, note_;
    double total_;
    bool enabled_, tty_, finished_ = false;
    std::chrono::steady_clock::time_point start_, last_draw_;
    double last_reported_fraction_ = -1.0;
};

}  // namespace rmaat
