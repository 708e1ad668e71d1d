#pragma once
// Positions of the synapses of an n_pre x n_post network. Synapse (i, j) has index k = i * n_post + j.
//   grid: r_ij = (i dx, j dx)
//   line: synapses in a row, r_k = (k dx, 0)
//   file: one "x y" pair (um) per synapse, in index order ('#' starts a comment)
#include <Eigen/Core>

#include <string>

namespace rmaat {
class ConfigSection;
}

namespace rmaat::sim {

// A coordinate file is read whole: 256 MiB holds 1024 x 1024 synapses at 256 bytes a line.
inline constexpr unsigned long long kMaxCoordinateFileBytes = 256ull << 20;

struct Geometry {
    enum class Kind { grid, line, file };
    Kind kind = Kind::grid;
    long n_pre = 0, n_post = 0;
    double dx_um = 1.0;          // synapse spacing; also the length unit of lambda_dx
    Eigen::MatrixX2d positions;  // n_syn x 2, um
    std::string source;          // file name for Kind::file

    long n_syn() const { return n_pre * n_post; }
    // The lattice the synapses sit on (rows x cols with spacing dx) when there is one: grid is
    // n_pre x n_post, line is 1 x n_syn. File geometries have none.
    bool on_lattice() const { return kind != Kind::file; }
    long lattice_rows() const { return kind == Kind::grid ? n_pre : 1; }
    long lattice_cols() const { return kind == Kind::grid ? n_post : n_syn(); }

    static Geometry grid(long n_pre, long n_post, double dx_um);
    static Geometry line(long n_pre, long n_post, double dx_um);
    // Errors (std::runtime_error) name the file, the line and the reason; two synapses at one position
    // name both lines. Only a regular file of at most kMaxCoordinateFileBytes is read.
    static Geometry from_file(const std::string& path, long n_pre, long n_post, double dx_um);
    // Reads [network.geometry]: kind, dx_um, file (relative paths are taken from config_dir);
    // absent keys take the kind and spacing of `defaults`.
    static Geometry from_config(const ConfigSection& s, long n_pre, long n_post, const std::string& config_dir);
    static Geometry from_config(const ConfigSection& s, long n_pre, long n_post, const std::string& config_dir,
                                const Geometry& defaults);
    static const char* name(Kind k);
};

}  // namespace rmaat::sim
