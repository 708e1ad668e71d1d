#include "core/provenance.hpp"

#include <algorithm>
#include <ctime>

#include "rmaat/version.hpp"

namespace rmaat {

namespace {
std::string g_command_line = "(library call)";
std::vector<std::string> g_command_args;
}  // namespace

void set_command_line(int argc, char** argv) {
    std::string s;
    for (int i = 0; i < argc; ++i) s += (i ? " " : "") + std::string(argv[i]);
    g_command_line = s;
    g_command_args.assign(argv + std::min(argc, 1), argv + argc);
}

const std::vector<std::string>& command_args() {
    return g_command_args;
}

const std::string& command_line() {
    return g_command_line;
}

std::string utc_now_iso8601() {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

void write_provenance(const h5::Group& root, const std::string& resolved_config, std::uint64_t seed) {
    root.attr("tool", std::string("rmaat"));
    root.attr("tool_version", std::string(kVersion));
    root.attr("git_commit", std::string(kGitCommit));
    root.attr("created_utc", utc_now_iso8601());
    root.attr("command_line", command_line());
    root.attr("config", resolved_config);
    root.attr("seed", static_cast<std::int64_t>(seed));
}

}  // namespace rmaat
