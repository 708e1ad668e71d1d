#include "sim/network/protocol.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "core/config.hpp"

namespace rmaat::sim {

Protocol Protocol::from_config(const ConfigSection& s, long n_pre, long n_post) {
    return from_config(s, n_pre, n_post, Protocol{});
}

Protocol Protocol::from_config(const ConfigSection& s, long n_pre, long n_post, const Protocol& d) {
    Protocol p;
    const std::string kind = s.get_string("kind", name(d.kind), {"fixed", "random", "focal"});
    p.kind = kind == "fixed" ? Kind::fixed : kind == "random" ? Kind::random : Kind::focal;
    p.t_on_s = s.get_double("t_on_s", d.t_on_s, Range::positive());
    p.t_off_s = s.get_double("t_off_s", d.t_off_s, Range::non_negative());
    p.amplitude = s.get_double("amplitude", d.amplitude);
    std::vector<double> neurons_default(d.neurons.begin(), d.neurons.end());
    for (double v : s.get_double_array("neurons", neurons_default, Range::closed(0, double(n_pre - 1)))) {
        if (v != std::floor(v)) throw s.error("neurons", fmt::format("{} is not a neuron index", v));
        p.neurons.push_back(static_cast<long>(v));
    }
    p.fraction = s.get_double("fraction", d.fraction, Range{0.0, 1.0, true, false});
    p.seed = static_cast<std::uint64_t>(s.get_int("seed", static_cast<std::int64_t>(d.seed), Range::non_negative()));
    p.focal_pre =
        s.get_int("focal_pre", d.focal_pre >= 0 ? d.focal_pre : n_pre / 2, Range::closed(0, double(n_pre - 1)));
    p.focal_post =
        s.get_int("focal_post", d.focal_post >= 0 ? d.focal_post : n_post / 2, Range::closed(0, double(n_post - 1)));
    return p;
}

const char* Protocol::name(Kind k) {
    switch (k) {
        case Kind::fixed: return "fixed";
        case Kind::random: return "random";
        case Kind::focal: return "focal";
    }
    return "?";
}

Stimulus::Stimulus(const Protocol& p, long n_pre, long n_post) : p_(p), n_pre_(n_pre), n_post_(n_post), rng_(p.seed) {
    const long fi = p.focal_pre < 0 ? n_pre / 2 : p.focal_pre;
    const long fj = p.focal_post < 0 ? n_post / 2 : p.focal_post;
    focal_index_ = fi * n_post + fj;
}

void Stimulus::on_phase(long, Eigen::VectorXd& u, Eigen::VectorXd& I) {
    u = Eigen::VectorXd::Zero(n_pre_);
    I = Eigen::VectorXd::Zero(n_pre_ * n_post_);
    switch (p_.kind) {
        case Protocol::Kind::fixed:
            if (p_.neurons.empty())
                u.setConstant(p_.amplitude);
            else
                for (long i : p_.neurons) u[i] = p_.amplitude;
            break;
        case Protocol::Kind::random: {
            const long k = std::max(1L, static_cast<long>(std::lround(p_.fraction * n_pre_)));
            std::vector<long> idx(n_pre_);
            std::iota(idx.begin(), idx.end(), 0L);
            // Partial Fisher-Yates on raw engine draws: the same seed gives the same subsets with every
            // standard library (std::shuffle and the distributions are implementation-defined).
            for (long a = 0; a < k; ++a) {
                const long pick = a + static_cast<long>(rng_() % static_cast<std::uint64_t>(n_pre_ - a));
                std::swap(idx[a], idx[pick]);
                u[idx[a]] = p_.amplitude;
            }
            break;
        }
        case Protocol::Kind::focal: I[focal_index_] = p_.amplitude; break;
    }
}

void Stimulus::off_phase(Eigen::VectorXd& u, Eigen::VectorXd& I) const {
    u = Eigen::VectorXd::Zero(n_pre_);
    I = Eigen::VectorXd::Zero(n_pre_ * n_post_);
}

}  // namespace rmaat::sim
