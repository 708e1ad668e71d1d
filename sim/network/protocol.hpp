#pragma once
// STP-cycle stimulation protocols (docs/design.md section 3.3). Each cycle is an on phase of t_on seconds followed by an
// off phase of t_off seconds. While on:
//   fixed:  u_i = amplitude for the listed presynaptic neurons (default: all);
//   random: u_i = amplitude for a seeded random subset of the presynaptic neurons, new every cycle;
//   focal:  no presynaptic rate; direct drive I_ij = amplitude into one synapse.
// While off, all inputs are zero.
#include <Eigen/Core>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace rmaat {
class ConfigSection;
}

namespace rmaat::sim {

struct Protocol {
    enum class Kind { fixed, random, focal };
    Kind kind = Kind::fixed;
    double t_on_s = 2.0;
    double t_off_s = 3.0;
    double amplitude = 1.0;
    std::vector<long> neurons;             // fixed: presynaptic neurons driven (empty: all)
    double fraction = 0.5;                 // random: share of presynaptic neurons driven per cycle
    std::uint64_t seed = 1;                // random
    long focal_pre = -1, focal_post = -1;  // focal synapse; -1: the middle of the network

    double cycle_s() const { return t_on_s + t_off_s; }
    static Protocol from_config(const ConfigSection& s, long n_pre, long n_post);
    static Protocol from_config(const ConfigSection& s, long n_pre, long n_post, const Protocol& defaults);
    static const char* name(Kind k);
};

// The inputs of one phase. Generates the random subsets in cycle order from the seed.
class Stimulus {
public:
    Stimulus(const Protocol& p, long n_pre, long n_post);
    // Sets u (n_pre) and I (n_syn) for the on phase of `cycle` (cycles must come in order).
    void on_phase(long cycle, Eigen::VectorXd& u, Eigen::VectorXd& I);
    void off_phase(Eigen::VectorXd& u, Eigen::VectorXd& I) const;
    long focal_index() const { return focal_index_; }

private:
    Protocol p_;
    long n_pre_, n_post_, focal_index_ = -1;
    std::mt19937_64 rng_;
};

}  // namespace rmaat::sim
