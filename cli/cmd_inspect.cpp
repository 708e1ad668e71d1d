#include <fmt/format.h>

#include <algorithm>
#include <string>

#include "cli/commands.hpp"
#include "core/h5_store.hpp"

namespace rmaat::cli {

namespace {

// One line per object: groups, then datasets with shape, units and (for scalars) the value.
void print_object(const h5::ObjectInfo& o) {
    const int depth = static_cast<int>(std::count(o.path.begin(), o.path.end(), '/'));
    const std::string indent(2 * depth + 2, ' ');
    const std::string base = o.path.substr(o.path.rfind('/') + 1);
    if (o.kind == h5::ObjectInfo::group) {
        fmt::print("{}{}/\n", indent, base);
        return;
    }
    if (o.kind != h5::ObjectInfo::dataset) {
        fmt::print("{}{} (not a group or dataset)\n", indent, base);
        return;
    }
    std::string shape;
    for (size_t i = 0; i < o.dims.size(); ++i) shape += (i ? " x " : "") + std::to_string(o.dims[i]);
    fmt::print("{}{}{} [{}]{}{}\n", indent, base, o.scalar ? fmt::format(" = {:.6g}", *o.scalar) : std::string(),
               shape.empty() ? "scalar" : shape, o.units.empty() ? "" : " " + o.units,
               o.problem.empty() ? "" : " (unreadable: " + o.problem + ")");
}

void inspect(const std::string& path, bool show_config) {
    h5::File f = h5::File::open_read(path);
    const h5::Group root = f.root();
    fmt::print("{}\n", path);
    // A provenance attribute of another shape or type (a foreign file) is reported, not fatal.
    for (const char* a : {"tool", "tool_version", "git_commit", "created_utc", "command_line", "status"}) {
        if (!root.has_attr(a)) continue;
        try {
            fmt::print("  {}: {}\n", a, root.attr_string(a));
        } catch (const h5::Error& e) {
            fmt::print("  {}: (unreadable: {})\n", a, e.what());
        }
    }
    if (show_config && root.has_attr("config"))
        fmt::print("--- resolved config ---\n{}\n---\n", root.attr_string("config"));
    for (const auto& o : root.list_objects()) print_object(o);
}

}  // namespace

void add_inspect(CLI::App& app) {
    auto* cmd = app.add_subcommand("inspect", "Summarise a run file: provenance, status, groups, datasets and units");
    auto path = std::make_shared<std::string>();
    auto cfg = std::make_shared<bool>(false);
    cmd->add_option("run", *path, "Run file (HDF5)")->required()->check(CLI::ExistingFile);
    cmd->add_flag("--config", *cfg, "Also print the resolved config stored in the file");
    cmd->callback([path, cfg] { inspect(*path, *cfg); });
}

}  // namespace rmaat::cli
