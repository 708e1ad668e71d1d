#include "sim/network/geometry.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/config.hpp"
#include "core/input_file.hpp"

namespace rmaat::sim {

Geometry Geometry::grid(long n_pre, long n_post, double dx_um) {
    Geometry g;
    g.kind = Kind::grid;
    g.n_pre = n_pre;
    g.n_post = n_post;
    g.dx_um = dx_um;
    g.positions.resize(n_pre * n_post, 2);
    for (long i = 0; i < n_pre; ++i)
        for (long j = 0; j < n_post; ++j) g.positions.row(i * n_post + j) << i * dx_um, j * dx_um;
    return g;
}

Geometry Geometry::line(long n_pre, long n_post, double dx_um) {
    Geometry g;
    g.kind = Kind::line;
    g.n_pre = n_pre;
    g.n_post = n_post;
    g.dx_um = dx_um;
    g.positions.resize(n_pre * n_post, 2);
    for (long k = 0; k < n_pre * n_post; ++k) g.positions.row(k) << k * dx_um, 0.0;
    return g;
}

namespace {

// The earliest synapse that repeats the position of an earlier one, and that one, found by sorting the
// indices by position: O(n log n), where comparing every pair took 20 minutes at 1024 x 1024.
void check_distinct(const Eigen::MatrixX2d& pos, const std::vector<long>& lines, const std::string& path) {
    const long n = pos.rows();
    std::vector<long> order(n);
    std::iota(order.begin(), order.end(), 0L);
    auto key = [&pos](long k) { return std::make_pair(pos(k, 0), pos(k, 1)); };  // -0.0 == 0.0, as the distance
    std::stable_sort(order.begin(), order.end(), [&](long a, long b) { return key(a) < key(b); });
    long first = -1, second = -1;
    for (long r = 1; r < n; ++r) {
        // Stable: equal positions stay in file order, so the first equal pair of a run holds the
        // earliest synapse at that position and the smallest repeat of it.
        const long a = order[r - 1], b = order[r];
        if (key(a) == key(b) && (second < 0 || b < second)) first = a, second = b;
    }
    if (second >= 0)
        throw std::runtime_error(fmt::format("{}:{}: synapse {} has the same position ({}, {}) as synapse {} (line {})",
                                             path, lines[second], second, pos(second, 0), pos(second, 1), first,
                                             lines[first]));
}

}  // namespace

Geometry Geometry::from_file(const std::string& path, long n_pre, long n_post, double dx_um) {
    const std::string text = read_regular_file(path, kMaxCoordinateFileBytes, "coordinate file");
    Geometry g;
    g.kind = Kind::file;
    g.n_pre = n_pre;
    g.n_post = n_post;
    g.dx_um = dx_um;
    g.source = path;
    const long n = n_pre * n_post;
    g.positions.resize(n, 2);
    std::vector<long> lines(n);
    std::istringstream in(text);
    std::string line;
    long lineno = 0, k = 0;
    while (std::getline(in, line)) {
        ++lineno;
        if (const auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
        std::istringstream ss(line);
        std::string a, b, extra;
        if (!(ss >> a)) continue;  // blank or comment line
        if (!(ss >> b))
            throw std::runtime_error(fmt::format("{}:{}: expected two coordinates 'x y', got one", path, lineno));
        if (ss >> extra)
            throw std::runtime_error(fmt::format("{}:{}: expected two coordinates 'x y', got more", path, lineno));
        double xy[2];
        const std::string* tok[2] = {&a, &b};
        for (int c = 0; c < 2; ++c) {
            size_t used = 0;
            try {
                xy[c] = std::stod(*tok[c], &used);
            } catch (const std::exception&) {
                used = 0;
            }
            if (used != tok[c]->size() || !std::isfinite(xy[c]))
                throw std::runtime_error(fmt::format("{}:{}: '{}' is not a finite number", path, lineno, *tok[c]));
        }
        if (k >= n)
            throw std::runtime_error(fmt::format("{}:{}: more coordinates than the {} synapses of a {}x{} network",
                                                 path, lineno, n, n_pre, n_post));
        lines[k] = lineno;
        g.positions.row(k++) << xy[0], xy[1];
    }
    if (k != n)
        throw std::runtime_error(
            fmt::format("{}: {} coordinates for {} synapses ({}x{} network)", path, k, n, n_pre, n_post));
    check_distinct(g.positions, lines, path);
    return g;
}

Geometry Geometry::from_config(const ConfigSection& s, long n_pre, long n_post, const std::string& config_dir) {
    return from_config(s, n_pre, n_post, config_dir, grid(1, 1, 1.0));
}

Geometry Geometry::from_config(const ConfigSection& s, long n_pre, long n_post, const std::string& config_dir,
                               const Geometry& d) {
    const std::string kind = s.get_string("kind", name(d.kind), {"grid", "line", "file"});
    const double dx = s.get_double("dx_um", d.dx_um, Range::positive());
    const std::string file = s.get_string("file", d.source);
    if (kind == "grid") return grid(n_pre, n_post, dx);
    if (kind == "line") return line(n_pre, n_post, dx);
    if (file.empty()) throw s.error("file", "geometry kind \"file\" needs a coordinate file");
    const std::string path = (file.front() == '/' || config_dir.empty()) ? file : config_dir + "/" + file;
    try {
        return from_file(path, n_pre, n_post, dx);
    } catch (const std::runtime_error& e) {
        throw ConfigError(e.what());
    }
}

const char* Geometry::name(Kind k) {
    switch (k) {
        case Kind::grid: return "grid";
        case Kind::line: return "line";
        case Kind::file: return "file";
    }
    return "?";
}

}  // namespace rmaat::sim
