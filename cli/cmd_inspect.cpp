#include <hdf5.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "core/h5_store.hpp"

namespace rmaat::cli {

namespace {

// Prints one object of the file: groups with their string/number attributes, datasets with shape
// and units.
herr_t print_object(hid_t loc, const char* name, const H5O_info_t* info, void*) {
    if (std::string(name) == ".") return 0;
    const int depth = static_cast<int>(std::count(name, name + std::strlen(name), '/'));
    const std::string indent(2 * depth, ' ');
    const std::string base = std::string(name).substr(std::string(name).rfind('/') + 1);
    if (info->type == H5O_TYPE_GROUP) {
        fmt::print("{}{}/\n", indent, base);
        return 0;
    }
    if (info->type != H5O_TYPE_DATASET) return 0;
    h5::Handle d(H5Dopen2(loc, name, H5P_DEFAULT), H5Dclose);
    h5::Handle s(H5Dget_space(d.get()), H5Sclose);
    std::vector<hsize_t> dims(H5Sget_simple_extent_ndims(s.get()));
    if (!dims.empty()) H5Sget_simple_extent_dims(s.get(), dims.data(), nullptr);
    std::string shape;
    for (size_t i = 0; i < dims.size(); ++i) shape += (i ? " x " : "") + std::to_string(dims[i]);
    std::string units;
    if (H5Aexists(d.get(), "units") > 0) {
        h5::Handle a(H5Aopen(d.get(), "units", H5P_DEFAULT), H5Aclose);
        h5::Handle t(H5Aget_type(a.get()), H5Tclose);
        units.resize(H5Tget_size(t.get()));
        H5Aread(a.get(), t.get(), units.data());
        units.resize(std::strlen(units.c_str()));
    }
    std::string value;
    if (dims.empty()) {  // scalars: show the value (summaries)
        double v = 0;
        if (H5Dread(d.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v) >= 0)
            value = fmt::format(" = {:.6g}", v);
    }
    fmt::print("{}{}{} [{}]{}\n", indent, base, value, shape.empty() ? "scalar" : shape,
               units.empty() ? "" : " " + units);
    return 0;
}

void inspect(const std::string& path, bool show_config) {
    h5::File f = h5::File::open_read(path);
    const h5::Group root = f.root();
    fmt::print("{}\n", path);
    for (const char* a : {"tool", "tool_version", "git_commit", "created_utc", "command_line", "status"})
        if (root.has_attr(a)) fmt::print("  {}: {}\n", a, root.attr_string(a));
    if (show_config && root.has_attr("config"))
        fmt::print("--- resolved config ---\n{}\n---\n", root.attr_string("config"));
    H5Ovisit(root.id(), H5_INDEX_NAME, H5_ITER_INC, print_object, nullptr);
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
