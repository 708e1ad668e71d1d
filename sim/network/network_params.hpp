#pragma once
// Parameters of the tripartite plasticity network (docs/design.md section 3.1). Times in seconds; every other
// quantity is dimensionless (rates and activities are normalised).
#include <string>

namespace rmaat {
class ConfigSection;
}

namespace rmaat::sim {

// A saturating nonlinearity f(x) = shape(gain * x); shapes: tanh (default), sigmoid, relu.
struct Activation {
    enum class Shape { tanh, sigmoid, relu };
    Shape shape = Shape::tanh;
    double gain = 1.0;

    double operator()(double x) const;
    double slope_at_zero() const;  // linear gain around the zero state
    static Shape parse(const std::string& name);
    static const char* name(Shape s);
};

struct NetworkParams {
    // Time constants (s).
    double tau_n = 0.01;   // postsynaptic neuron
    double tau_s = 0.1;    // synapse
    double tau_ps = 1.0;   // astrocytic short-term process
    double tau_pl = 20.0;  // astrocytic long-term process
    // Rates and gains (dimensionless).
    double beta = 1.0;       // synaptic decay
    double gamma_s = 3.0;    // STP decay
    double gamma_l = 0.05;   // LTP decay
    double pl_max = 1.0;     // LTP saturation level
    double w_T = 0.75;       // coupling strength: spectral radius of T
    double lambda_dx = 2.0;  // coupling length lambda_T in units of the synapse spacing dx
    double b = 0.5;          // postsynaptic bias (with b = 0 the zero state never moves)
    Activation F, G, Psi, K, K_l;

    // Reads [network.params] and [network.nonlinearity]; validates ranges.
    static NetworkParams from_config(const ConfigSection& params, const ConfigSection& nonlinearity);
    static NetworkParams from_config(const ConfigSection& params, const ConfigSection& nonlinearity,
                                     const NetworkParams& defaults);
    // Linear loop gain that gamma_s must exceed for STP to decay between cycles (docs/design.md section 3.1).
    double stp_loop_gain() const;
};

}  // namespace rmaat::sim
