#pragma once
// Reading a training run file in a test (trainer/run_file.hpp's layout).
#include <string>
#include <utility>
#include <vector>

#include "core/h5_store.hpp"

namespace rmaat::testing {

// Every parameter of a run file or checkpoint (/model/params), by name.
inline std::vector<std::pair<std::string, std::vector<double>>> params_of(const std::string& path) {
    const h5::File f = h5::File::open_read(path);
    const h5::Group p = f.root().open_group("model/params");
    std::vector<std::pair<std::string, std::vector<double>>> out;
    for (const auto& o : p.list_objects())
        if (o.kind == h5::ObjectInfo::dataset) out.emplace_back(o.path, p.read(o.path).data);
    return out;
}

}  // namespace rmaat::testing
