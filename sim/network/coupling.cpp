#include "sim/network/coupling.hpp"

#include <Eigen/Dense>
#include <Eigen/SparseCore>
#include <unsupported/Eigen/FFT>

#include <algorithm>
#include <cmath>
#include <complex>
#include <random>
#include <stdexcept>
#include <vector>

namespace rmaat::sim {

namespace {

class DenseKernel : public KernelOperator {
public:
    DenseKernel(const Geometry& g, double lambda) : k_(g.n_syn(), g.n_syn()) {
        const long n = g.n_syn();
        for (long a = 0; a < n; ++a)
            for (long b = 0; b < n; ++b)
                k_(a, b) = a == b ? 0.0 : std::exp(-(g.positions.row(a) - g.positions.row(b)).norm() / lambda);
    }
    void apply(const Eigen::Ref<const Eigen::VectorXd>& v, Eigen::Ref<Eigen::VectorXd> out) const override {
        out.noalias() = k_ * v;
    }
    long size() const override { return k_.rows(); }

private:
    Eigen::MatrixXd k_;
};

long next_pow2(long n) {
    long p = 1;
    while (p < n) p <<= 1;
    return p;
}

// K v on a rows x cols lattice as a linear 2-D convolution: zero-pad to P1 x P2 >= (2 rows - 1) x
// (2 cols - 1), multiply spectra, transform back. Exact up to floating-point rounding. The data are
// real, so rows go through real FFTs that keep the P2/2 + 1 non-redundant columns (half the work of
// complex transforms), and only the rows that hold data are transformed.
class FftKernel : public KernelOperator {
public:
    FftKernel(const Geometry& g, double lambda)
        : rows_(g.lattice_rows()),
          cols_(g.lattice_cols()),
          p1_(rows_ == 1 ? 1 : next_pow2(2 * rows_ - 1)),
          p2_(next_pow2(std::max(2L, 2 * cols_ - 1))),
          h_(p2_ / 2 + 1),
          spectrum_(p1_ * h_),
          work_(p1_ * h_),
          real_row_(p2_),
          col_in_(p1_),
          col_out_(p1_) {
        fft_rows_.SetFlag(Eigen::FFT<double>::HalfSpectrum);
        // The kernel on the padded lattice: offsets da, db wrap around (negative offsets at the end).
        std::vector<double> kern(p1_ * p2_, 0.0);
        for (long a = 0; a < p1_; ++a) {
            const long da = a < rows_ ? a : a - p1_;
            if (std::abs(da) >= rows_) continue;
            for (long b = 0; b < p2_; ++b) {
                const long db = b < cols_ ? b : b - p2_;
                if (std::abs(db) >= cols_ || (da == 0 && db == 0)) continue;
                kern[a * p2_ + b] = std::exp(-g.dx_um * std::hypot(double(da), double(db)) / lambda);
            }
        }
        forward([&](long i, double* row) { std::copy(&kern[i * p2_], &kern[(i + 1) * p2_], row); }, p1_);
        spectrum_ = work_;
    }

    void apply(const Eigen::Ref<const Eigen::VectorXd>& v, Eigen::Ref<Eigen::VectorXd> out) const override {
        forward(
            [&](long i, double* row) {
                std::fill(row, row + p2_, 0.0);
                for (long j = 0; j < cols_; ++j) row[j] = v[i * cols_ + j];
            },
            rows_);
        for (long k = 0; k < p1_ * h_; ++k) work_[k] *= spectrum_[k];
        // Inverse: columns, then the rows that hold the result.
        column_pass(true);
        for (long i = 0; i < rows_; ++i) {
            fft_rows_.inv(real_row_.data(), &work_[i * h_], p2_);
            for (long j = 0; j < cols_; ++j) out[i * cols_ + j] = real_row_[j];
        }
    }
    long size() const override { return rows_ * cols_; }

private:
    // work_ = 2-D spectrum (half columns) of the rows fill(i, row) writes, for i < live_rows (others 0).
    template <typename Fill>
    void forward(Fill fill, long live_rows) const {
        std::fill(work_.begin(), work_.end(), std::complex<double>(0.0));
        for (long i = 0; i < live_rows; ++i) {
            fill(i, real_row_.data());
            fft_rows_.fwd(&work_[i * h_], real_row_.data(), p2_);
        }
        column_pass(false);
    }
    void column_pass(bool inverse) const {
        if (p1_ == 1) return;
        for (long j = 0; j < h_; ++j) {
            for (long i = 0; i < p1_; ++i) col_in_[i] = work_[i * h_ + j];
            if (inverse)
                fft_cols_.inv(col_out_.data(), col_in_.data(), p1_);
            else
                fft_cols_.fwd(col_out_.data(), col_in_.data(), p1_);
            for (long i = 0; i < p1_; ++i) work_[i * h_ + j] = col_out_[i];
        }
    }

    long rows_, cols_, p1_, p2_, h_;
    std::vector<std::complex<double>> spectrum_;
    mutable std::vector<std::complex<double>> work_;
    mutable std::vector<double> real_row_;
    mutable std::vector<std::complex<double>> col_in_, col_out_;
    mutable Eigen::FFT<double> fft_rows_, fft_cols_;
};

class SparseKernel : public KernelOperator {
public:
    SparseKernel(const Geometry& g, double lambda, double cutoff, double* dropped) {
        const long n = g.n_syn();
        std::vector<Eigen::Triplet<double>> trips;
        double worst = 0.0;
        for (long a = 0; a < n; ++a) {
            double row_dropped = 0.0;
            for (long b = 0; b < n; ++b) {
                if (a == b) continue;
                const double k = std::exp(-(g.positions.row(a) - g.positions.row(b)).norm() / lambda);
                if (k >= cutoff)
                    trips.emplace_back(a, b, k);
                else
                    row_dropped += k;
            }
            worst = std::max(worst, row_dropped);
        }
        k_.resize(n, n);
        k_.setFromTriplets(trips.begin(), trips.end());
        if (dropped) *dropped = worst;
    }
    void apply(const Eigen::Ref<const Eigen::VectorXd>& v, Eigen::Ref<Eigen::VectorXd> out) const override {
        out.noalias() = k_ * v;
    }
    long size() const override { return k_.rows(); }

private:
    Eigen::SparseMatrix<double, Eigen::RowMajor> k_;
};

}  // namespace

std::unique_ptr<KernelOperator> make_dense_kernel(const Geometry& g, double lambda_um) {
    return std::make_unique<DenseKernel>(g, lambda_um);
}

std::unique_ptr<KernelOperator> make_fft_kernel(const Geometry& g, double lambda_um) {
    if (!g.on_lattice()) throw std::invalid_argument("FFT coupling needs a grid or line geometry");
    return std::make_unique<FftKernel>(g, lambda_um);
}

std::unique_ptr<KernelOperator> make_sparse_kernel(const Geometry& g, double lambda_um, double cutoff,
                                                   double* dropped_row_sum) {
    return std::make_unique<SparseKernel>(g, lambda_um, cutoff, dropped_row_sum);
}

double spectral_radius(const KernelOperator& k, double tol, long max_iter) {
    const long n = k.size();
    if (n < 2) return 0.0;
    // K is symmetric and non-negative: from the all-ones vector the Rayleigh quotient rises
    // monotonically to the Perron root.
    Eigen::VectorXd v = Eigen::VectorXd::Ones(n) / std::sqrt(double(n)), w(n);
    double lambda = 0.0;
    for (long it = 0; it < max_iter; ++it) {
        k.apply(v, w);
        const double next = v.dot(w);
        const double norm = w.norm();
        if (norm == 0.0) return 0.0;
        v = w / norm;
        if (std::abs(next - lambda) <= tol * std::abs(next)) return next;
        lambda = next;
    }
    return lambda;
}

Coupling::Coupling(const Geometry& g, double lambda_um, double w_T, const CouplingOptions& opt)
    : path_(opt.path), w_T_(w_T) {
    double dropped = 0.0;
    if (opt.path == CouplingOptions::Path::dense) {
        kernel_ = make_dense_kernel(g, lambda_um);
        method_ = "dense";
    } else if (g.on_lattice()) {
        kernel_ = make_fft_kernel(g, lambda_um);
        method_ = "fft";
    } else {
        kernel_ = make_sparse_kernel(g, lambda_um, opt.sparse_cutoff, &dropped);
        method_ = "sparse";
    }
    rho_ = spectral_radius(*kernel_);
    scale_ = rho_ > 0 ? w_T / rho_ : 0.0;
    if (std::string(method_) == "sparse") a_priori_bound_ = rho_ > 0 ? dropped / rho_ : 0.0;

    if (opt.path == CouplingOptions::Path::fast) {
        measured_error_ = std::numeric_limits<double>::quiet_NaN();
        if (g.n_syn() <= std::min(opt.check_max_synapses, kMaxDenseSynapses) && g.n_syn() > 1) {
            // Compare the kernel against the exact dense one on the all-ones vector and random vectors.
            // rho comes from the same kernel, and |rho(A) - rho(B)| <= ||A - B||, so this error also
            // bounds the one of T.
            auto dense = make_dense_kernel(g, lambda_um);
            std::mt19937_64 rng(12345);
            std::uniform_real_distribution<double> u(-1.0, 1.0);
            Eigen::VectorXd v(g.n_syn()), a(g.n_syn()), b(g.n_syn());
            double worst = 0.0;
            for (int trial = 0; trial < 4; ++trial) {
                for (long k = 0; k < v.size(); ++k) v[k] = trial == 0 ? 1.0 : u(rng);
                kernel_->apply(v, a);
                dense->apply(v, b);
                const double ref = b.lpNorm<Eigen::Infinity>();
                if (ref > 0) worst = std::max(worst, (a - b).lpNorm<Eigen::Infinity>() / ref);
            }
            measured_error_ = worst;
        }
    }
}

void Coupling::apply(const Eigen::Ref<const Eigen::VectorXd>& v, Eigen::Ref<Eigen::VectorXd> out) const {
    kernel_->apply(v, out);
    out *= scale_;
}

const char* Coupling::path_name() const {
    return path_ == CouplingOptions::Path::dense ? "dense" : "fast";
}

}  // namespace rmaat::sim
