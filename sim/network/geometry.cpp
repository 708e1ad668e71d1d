#include "sim/network/geometry.hpp"

#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

#include "core/config.hpp"

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

Geometry Geometry::from_file(const std::string& path, long n_pre, long n_post, double dx_um) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error(fmt::format("{}: cannot open coordinate file", path));
    Geometry g;
    g.kind = Kind::file;
    g.n_pre = n_pre;
    g.n_post = n_post;
    g.dx_um = dx_um;
    g.source = path;
    const long n = n_pre * n_post;
    g.positions.resize(n, 2);
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
        g.positions.row(k++) << xy[0], xy[1];
    }
    if (k != n)
        throw std::runtime_error(
            fmt::format("{}: {} coordinates for {} synapses ({}x{} network)", path, k, n, n_pre, n_post));
    for (long p = 0; p < n; ++p)
        for (long q = p + 1; q < n; ++q)
            if ((g.positions.row(p) - g.positions.row(q)).norm() == 0.0)
                throw std::runtime_error(fmt::format("{}: synapses {} and {} have the same position", path, p, q));
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
