#pragma once
// The tripartite plasticity network (docs/design.md section 3.1): rate neurons, synapses, astrocytic STP and LTP.
//
//   tau_n  dx_j/dt   = -x_j + sum_i G(s_ij) F(u_i) + b
//   tau_s  ds_ij/dt  = -beta s_ij + F(u_i) F(x_j) + Psi(ps_ij) + I_ij
//   tau_ps dps_ij/dt = -gamma_s ps_ij + sum_kl T_ijkl Psi(ps_kl) + K(s_ij)
//   tau_pl dpl_ij/dt = -gamma_l pl_ij + K_l(ps_ij) (1 - pl_ij / pl_max)
//
// State vector: [x (n_post) | s (n_syn) | ps (n_syn) | pl (n_syn)], synapse k = i * n_post + j.
#include <Eigen/Core>

#include <string>
#include <vector>

#include "sim/limits.hpp"
#include "sim/network/coupling.hpp"
#include "sim/network/geometry.hpp"
#include "sim/network/network_params.hpp"
#include "sim/network/protocol.hpp"
#include "sim/ode_driver.hpp"
#include "sim/recorder.hpp"

namespace rmaat::sim {

class NetworkModel {
public:
    NetworkModel(const NetworkParams& p, const Geometry& g, const CouplingOptions& c);

    long n_pre() const { return geometry_.n_pre; }
    long n_post() const { return geometry_.n_post; }
    long n_syn() const { return geometry_.n_syn(); }
    long state_size() const { return n_post() + 3 * n_syn(); }
    State initial_state() const { return State::Zero(state_size()); }

    // Inputs held constant until the next call: u (n_pre) presynaptic rates, I (n_syn) direct drive.
    void set_inputs(const Eigen::VectorXd& u, const Eigen::VectorXd& I);
    void rhs(const State& y, State& dydt) const;
    // "x[j]", "s[i,j]", "ps[i,j]", "pl[i,j]"
    std::string name_of(Eigen::Index k) const;

    // Views into a state vector.
    static auto x(const State& y, long n_post) { return y.segment(0, n_post); }
    auto s(const State& y) const { return y.segment(n_post(), n_syn()); }
    auto ps(const State& y) const { return y.segment(n_post() + n_syn(), n_syn()); }
    auto pl(const State& y) const { return y.segment(n_post() + 2 * n_syn(), n_syn()); }

    const NetworkParams& params() const { return p_; }
    const Geometry& geometry() const { return geometry_; }
    const Coupling& coupling() const { return coupling_; }

private:
    NetworkParams p_;
    Geometry geometry_;
    Coupling coupling_;
    Eigen::VectorXd u_, I_, Fu_;
    mutable Eigen::VectorXd psi_, coupled_;  // work space of rhs()
};

struct NetworkRunConfig {
    NetworkParams params;
    Geometry geometry = Geometry::grid(3, 3, 1.0);
    CouplingOptions coupling;
    Protocol protocol;
    IntegratorOptions integrator;
    long cycles = 64;
    double record_dt_s = 0.05;
    bool record_full = true;  // whole s, ps, pl arrays on the grid (default: n_syn <= 256)
};

// Reads the [network] table (n_pre, n_post, cycles, record_dt_s, record_full and the subtables
// params, nonlinearity, geometry, coupling, protocol, integrator). Keys that are absent take their
// value from `defaults` (the calibration experiments use other defaults than a plain simulation).
NetworkRunConfig read_network_config(const ConfigSection& network, const std::string& config_dir = "",
                                     const NetworkRunConfig& defaults = NetworkRunConfig{});

// What a run would take (sim/limits.hpp), knobs relative to the [network] table: trace rows, bytes
// recorded (trace, ltp and stp streams, positions), rk4 steps or the fewest dopri5 steps dt_max_s
// allows, and for a coordinate file on the fast path the n_syn^2 kernel entries the sparse coupling
// evaluates.
std::vector<Cost> network_costs(const NetworkRunConfig& cfg);
// What holds the memory of a run and which [network] keys reduce it, for an out-of-memory message.
std::string network_memory_advice(const NetworkRunConfig& cfg);

struct NetworkSummary {
    std::vector<double> ltp;  // p(t): mean pl at the end of cycle t, t = 0..cycles (p(0) = start)
    double t_end_s = 0.0;
    long steps = 0;
    double setup_s = 0.0;            // wall time of building the model (coupling, spectral radius, error check)
    double coupling_rel_error = 0.0;  // Coupling::measured_rel_error()
};

// Streams: "trace" (record grid: x, s_mean, ps_mean, pl_mean [, s, ps, pl]), "ltp" (t = 0 and every
// cycle end: pl_mean, pl), "stp" (end of every on phase: ps_mean, ps); arrays "positions"; summaries
// of the coupling. Throws IntegrationError on NaN/Inf or a stalled step, after flushing what was recorded.
NetworkSummary run_network(const NetworkRunConfig& cfg, Recorder& rec, bool show_progress = false);

}  // namespace rmaat::sim
