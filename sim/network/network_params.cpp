#include "sim/network/network_params.hpp"

#include <cmath>
#include <stdexcept>

#include "core/config.hpp"

namespace rmaat::sim {

double Activation::operator()(double x) const {
    const double z = gain * x;
    switch (shape) {
        case Shape::tanh: return std::tanh(z);
        case Shape::sigmoid: return 1.0 / (1.0 + std::exp(-z));
        case Shape::relu: return z > 0 ? z : 0.0;
    }
    return 0.0;
}

double Activation::slope_at_zero() const {
    switch (shape) {
        case Shape::tanh: return gain;
        case Shape::sigmoid: return gain / 4.0;
        case Shape::relu: return gain;
    }
    return gain;
}

Activation::Shape Activation::parse(const std::string& n) {
    if (n == "tanh") return Shape::tanh;
    if (n == "sigmoid") return Shape::sigmoid;
    if (n == "relu") return Shape::relu;
    throw std::invalid_argument("unknown activation " + n);
}

const char* Activation::name(Shape s) {
    switch (s) {
        case Shape::tanh: return "tanh";
        case Shape::sigmoid: return "sigmoid";
        case Shape::relu: return "relu";
    }
    return "?";
}

NetworkParams NetworkParams::from_config(const ConfigSection& p, const ConfigSection& nl) {
    return from_config(p, nl, NetworkParams{});
}

NetworkParams NetworkParams::from_config(const ConfigSection& p, const ConfigSection& nl, const NetworkParams& d) {
    NetworkParams r;
    const Range pos = Range::positive(), nonneg = Range::non_negative();
    r.tau_n = p.get_double("tau_n", d.tau_n, pos);
    r.tau_s = p.get_double("tau_s", d.tau_s, pos);
    r.tau_ps = p.get_double("tau_ps", d.tau_ps, pos);
    r.tau_pl = p.get_double("tau_pl", d.tau_pl, pos);
    r.beta = p.get_double("beta", d.beta, pos);
    r.gamma_s = p.get_double("gamma_s", d.gamma_s, pos);
    r.gamma_l = p.get_double("gamma_l", d.gamma_l, nonneg);
    r.pl_max = p.get_double("pl_max", d.pl_max, pos);
    r.w_T = p.get_double("w_T", d.w_T, nonneg);
    r.lambda_dx = p.get_double("lambda_dx", d.lambda_dx, pos);
    r.b = p.get_double("b", d.b);
    const std::vector<std::string> shapes{"tanh", "sigmoid", "relu"};
    auto act = [&](const char* name, Activation& a, const Activation& def) {
        a.shape = Activation::parse(nl.get_string(name, Activation::name(def.shape), shapes));
        a.gain = nl.get_double(std::string(name) + "_gain", def.gain, pos);
    };
    act("F", r.F, d.F);
    act("G", r.G, d.G);
    act("Psi", r.Psi, d.Psi);
    act("K", r.K, d.K);
    act("K_l", r.K_l, d.K_l);
    return r;
}

double NetworkParams::stp_loop_gain() const {
    // Around the zero state: the coupling loop w_T * Psi'(0), and the synaptic loop
    // ps -> s (gain Psi'(0) / beta) -> ps (gain K'(0)).
    return w_T * Psi.slope_at_zero() + K.slope_at_zero() * Psi.slope_at_zero() / beta;
}

}  // namespace rmaat::sim
