#pragma once
// The astrocytic coupling tensor T of the network model (docs/design.md section 3.1):
//   K_{ij,kl} = exp(-|r_ij - r_kl| / lambda) off the diagonal, 0 on it;  T = w_T K / rho(K).
// It is the cost centre of the simulation, so there are two paths behind one interface:
//   dense: the explicit n_syn x n_syn matrix (exact; (n_syn)^2 memory, 134 MB at 64x64);
//   fast:  on a lattice (grid, line) K is a Toeplitz(-block-Toeplitz) convolution, applied exactly
//          with zero-padded FFTs in O(n log n); on scattered coordinates (file geometry) a sparse
//          matrix that drops entries below a cut-off, with the exact bound of what it drops.
// The fast path's error against the dense one is measured when the coupling is built (up to
// `check_max_synapses`) and reported with the run.
#include <Eigen/Core>

#include <limits>
#include <memory>
#include <string>

#include "sim/network/geometry.hpp"

namespace rmaat::sim {

// y = K v for the unnormalised kernel.
class KernelOperator {
public:
    virtual ~KernelOperator() = default;
    virtual void apply(const Eigen::Ref<const Eigen::VectorXd>& v, Eigen::Ref<Eigen::VectorXd> out) const = 0;
    virtual long size() const = 0;
};

std::unique_ptr<KernelOperator> make_dense_kernel(const Geometry& g, double lambda_um);
// Lattice geometries only.
std::unique_ptr<KernelOperator> make_fft_kernel(const Geometry& g, double lambda_um);
// Drops entries below `cutoff` (relative to the largest entry); `dropped_row_sum` receives the largest
// sum of dropped entries in a row, so |K v - K_sparse v|_inf <= dropped_row_sum * |v|_inf.
std::unique_ptr<KernelOperator> make_sparse_kernel(const Geometry& g, double lambda_um, double cutoff,
                                                   double* dropped_row_sum);

// Perron root of a non-negative symmetric kernel by power iteration (relative tolerance `tol`).
double spectral_radius(const KernelOperator& k, double tol = 1e-13, long max_iter = 100000);

// The largest network the dense n_syn x n_syn kernel is built for, on the dense path or to measure
// the fast path against it (2.1 GB of doubles).
inline constexpr long kMaxDenseSynapses = 16384;

struct CouplingOptions {
    enum class Path { dense, fast };
    Path path = Path::fast;
    double sparse_cutoff = 1e-12;    // file geometry, fast path
    long check_max_synapses = 4096;  // measure fast vs dense error up to this size (0: never; <= kMaxDenseSynapses)
};

class Coupling {
public:
    Coupling(const Geometry& g, double lambda_um, double w_T, const CouplingOptions& opt);
    // out = T v
    void apply(const Eigen::Ref<const Eigen::VectorXd>& v, Eigen::Ref<Eigen::VectorXd> out) const;

    double rho_K() const { return rho_; }
    double w_T() const { return w_T_; }
    const char* path_name() const;
    const char* method() const { return method_; }  // "dense", "fft", "sparse"
    // max over test vectors of |K_fast v - K_dense v|_inf / |K_dense v|_inf; 0 for the dense path;
    // NaN when not measured (network too large for the dense check).
    double measured_rel_error() const { return measured_error_; }
    // A priori bound of the fast path relative to |T v|_inf where one exists (sparse cut-off); NaN else.
    double a_priori_rel_bound() const { return a_priori_bound_; }

private:
    std::unique_ptr<KernelOperator> kernel_;
    CouplingOptions::Path path_;
    const char* method_ = "dense";
    double w_T_, rho_ = 1.0, scale_ = 0.0;
    double measured_error_ = 0.0;
    double a_priori_bound_ = std::numeric_limits<double>::quiet_NaN();
};

}  // namespace rmaat::sim
