#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "sim/simulate.hpp"

namespace rmaat::cli {

void check_output(const char* command, const std::string& out_path, bool force) {
    if (out_path.empty()) throw CLI::ValidationError(command, "give the file to write with -o FILE.h5");
    struct stat st {};
    if (lstat(out_path.c_str(), &st) == 0) {  // lstat: a dangling symlink is there too (it is replaced, not followed)
        if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))
            throw InputError(fmt::format("'{}' exists and is not a regular file{}; give another output name", out_path,
                                         S_ISDIR(st.st_mode) ? " (a directory)" : ""));
        if (!force) throw InputError(fmt::format("'{}' exists; pass --force to overwrite it", out_path));
    }
    const auto slash = out_path.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : out_path.substr(0, slash);
    if (access(dir.c_str(), W_OK | X_OK) != 0)
        throw InputError(fmt::format("cannot write '{}': directory '{}' {}", out_path, dir,
                                     errno == ENOENT ? "does not exist" : "is not writable"));
}

void add_allow_large(CLI::App* cmd, bool& allow_large) {
    cmd->add_flag("--allow-large", allow_large,
                  "Run even when the estimated work or output exceeds the limits (1e9 events: recorded rows, "
                  "integration steps, spikes; 10 GiB recorded); the estimate is still printed");
}

ConfigInput load_config_input(const char* command, const std::string& config_path, bool demo) {
    if (!demo && config_path.empty()) throw CLI::ValidationError(command, "give a CONFIG.toml or --demo");
    if (demo) return {Config::from_string(sim::demo_config_text(), "<built-in demo>"), "", "the built-in demo"};
    const auto slash = config_path.rfind('/');
    return {Config::from_file(config_path), slash == std::string::npos ? "" : config_path.substr(0, slash),
            config_path};
}

}  // namespace rmaat::cli
