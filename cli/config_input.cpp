#include <sys/stat.h>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "sim/simulate.hpp"

namespace rmaat::cli {

void check_output(const char* command, const std::string& out_path, bool force) {
    if (out_path.empty()) throw CLI::ValidationError(command, "give the file to write with -o FILE.h5");
    struct stat st {};
    if (lstat(out_path.c_str(), &st) == 0 && !force)  // lstat: a dangling symlink is there too
        throw InputError(fmt::format("'{}' exists; pass --force to overwrite it", out_path));
}

ConfigInput load_config_input(const char* command, const std::string& config_path, bool demo) {
    if (!demo && config_path.empty()) throw CLI::ValidationError(command, "give a CONFIG.toml or --demo");
    if (demo) return {Config::from_string(sim::demo_config_text(), "<built-in demo>"), "", "the built-in demo"};
    const auto slash = config_path.rfind('/');
    return {Config::from_file(config_path), slash == std::string::npos ? "" : config_path.substr(0, slash),
            config_path};
}

}  // namespace rmaat::cli
