#pragma once
// Work and output limits of a simulation (docs/design.md section 7.2). Before anything runs, every
// simulation's work and output are estimated from its config; one that could not finish or fit is
// refused with the estimate and the keys to change (a ConfigError naming the file and line), unless
// the user allows large runs (`--allow-large`: a warning then).
//   events  recorded rows, rk4 steps, the fewest dopri5 steps dt_max_s allows, presynaptic spikes,
//           coupling-kernel entries evaluated pair by pair: default limit 1e9;
//   bytes   what the run records (the run file; for a calibration's own simulations, memory and the
//           calibration file): default limit 10 GiB.
// Beyond kHardMaxEvents (1e15 events: decades of work, and counts past what the step and row
// indices hold) a run is refused even with --allow-large.
#include <string>
#include <utility>
#include <vector>

namespace rmaat {
class ConfigSection;
}

namespace rmaat::sim {

inline constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
inline constexpr double kHardMaxEvents = 1e15;

struct Limits {
    double max_events = 1e9;
    double max_bytes = 10 * kGiB;
    bool allow_large = false;  // exceeding max_events or max_bytes is a warning, not an error
};

// A key that changes an estimate, relative to the model's table, and which way: "<verb> <key><then>"
// ("raise record_dt_s", "set record_full = false").
struct Knob {
    std::string key;
    std::string verb;
    std::string then = "";
};

// One estimated quantity of a run.
struct Cost {
    std::string what;         // "trace rows (duration / record_dt_s)"
    double amount = 0.0;      // events, or bytes
    bool bytes = false;       // amount is bytes (else events)
    std::vector<Knob> knobs;  // the first one present in the config names the line of the error

    static Cost events(std::string what, double n, std::vector<Knob> knobs) {
        return {std::move(what), n, false, std::move(knobs)};
    }
    static Cost recorded(std::string what, double bytes, std::vector<Knob> knobs) {
        return {std::move(what), bytes, true, std::move(knobs)};
    }
};

// The same costs with every knob's key below `prefix` (e.g. "calcium." for [calibration.calcium]).
std::vector<Cost> with_prefix(std::vector<Cost> costs, const std::string& prefix);

// Throws ConfigError at the first cost beyond its limit ("<file>:<line>: <key>: the run would ... ,
// more than the limit of ...; raise <key> or lower <key> in [table], or pass --allow-large"); with
// allow_large logs a warning instead, except beyond kHardMaxEvents. `output` names where the bytes
// go ("the run file", "memory").
void check_costs(const std::vector<Cost>& costs, const ConfigSection& table, const Limits& limits,
                 const std::string& output);

}  // namespace rmaat::sim
