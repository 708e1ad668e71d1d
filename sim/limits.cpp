#include "sim/limits.hpp"

#include <fmt/format.h>

#include "core/config.hpp"
#include "core/log.hpp"

namespace rmaat::sim {

std::vector<Cost> with_prefix(std::vector<Cost> costs, const std::string& prefix) {
    for (auto& c : costs)
        for (auto& k : c.knobs) k.key = prefix + k.key;
    return costs;
}

namespace {

std::string amount_text(const Cost& c) {
    return c.bytes ? fmt::format("{:.3g} GiB", c.amount / kGiB) : fmt::format("{:.3g}", c.amount);
}

std::string advice(const Cost& c, const ConfigSection& table) {
    std::string s;
    for (size_t i = 0; i < c.knobs.size(); ++i)
        s += fmt::format("{}{} {}{}",
                         i == 0                    ? ""
                         : i + 1 == c.knobs.size() ? " or "
                                                   : ", ",
                         c.knobs[i].verb, c.knobs[i].key, c.knobs[i].then);
    return s + fmt::format(" in [{}]", table.path());
}

// The knob whose line the error names: the first one the config sets, else the first.
const std::string& error_key(const Cost& c, const ConfigSection& table) {
    for (const auto& k : c.knobs)
        if (table.has(k.key)) return k.key;
    return c.knobs.front().key;
}

}  // namespace

void check_costs(const std::vector<Cost>& costs, const ConfigSection& table, const Limits& limits,
                 const std::string& output) {
    for (const Cost& c : costs) {
        const double limit = c.bytes ? limits.max_bytes : limits.max_events;
        if (c.amount <= limit) continue;  // NaN and inf fall through: refused
        const bool hard = !(c.amount <= (c.bytes ? 8.0 * kHardMaxEvents : kHardMaxEvents));
        const std::string amount = amount_text(c);
        const std::string what = c.bytes ? fmt::format("the run would record {} in {} ({})", amount, output, c.what)
                                         : fmt::format("the run would take {} {}", amount, c.what);
        if (hard)
            throw table.error(error_key(c, table),
                              fmt::format("{}: it cannot finish (limit {:.0e} even with --allow-large); {}", what,
                                          kHardMaxEvents, advice(c, table)));
        const std::string lim = c.bytes ? fmt::format("{:.3g} GiB", limit / kGiB) : fmt::format("{:.3g} events", limit);
        if (!limits.allow_large)
            throw table.error(
                error_key(c, table),
                fmt::format("{}, more than the limit of {}; {}, or pass --allow-large", what, lim, advice(c, table)));
        log::warn("{}.{}: {}, more than {} (allowed by --allow-large)", table.path(), error_key(c, table), what, lim);
    }
}

}  // namespace rmaat::sim
