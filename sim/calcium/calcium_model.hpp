#pragma once
// Biophysical tripartite synapse, the "calcium" model of docs/design.md section 3.2.
//
// One synapse with Tsodyks-Markram STP and cleft glutamate, one astrocyte with the G-ChI IP3/Ca2+
// model (Li-Rinzel IP3R kinetics, J_ex exchange term with I_bias = 0) and gliotransmitter release
// feeding back on the release probability: De Pitta et al. (2011, 2016) as written in the Brian 2
// example 4 (example_4_synrel.py) of Stimberg et al. (2018), with its parameter set. Units: uM and s.
//
// Presynaptic spikes and gliotransmitter releases are exact events: every smooth stretch between
// them is one integrate_segment() call, a release is located on the dense output where C crosses
// C_Theta upwards, and the jumps are applied at the event time.
#include <cstdint>
#include <string>
#include <vector>

#include "sim/limits.hpp"
#include "sim/ode_driver.hpp"

namespace rmaat {
class ConfigSection;
}

namespace rmaat::sim {

class Recorder;

struct CalciumParams {
    // Synapse (Tsodyks-Markram STP, cleft glutamate, presynaptic gliotransmitter receptors)
    double rho_c = 0.005;         // 1, synaptic vesicle-to-cleft volume ratio
    double Y_T = 5e5;             // uM, total vesicular glutamate (500 mM)
    double Omega_c = 40.0;        // 1/s, glutamate clearance rate
    double U_0_star = 0.6;        // 1, resting release probability
    double Omega_f = 3.33;        // 1/s, facilitation rate (decay of u_S)
    double Omega_d = 2.0;         // 1/s, depression recovery rate (of x_S)
    double O_G = 1.5;             // 1/(uM s), gliotransmitter receptor activation rate
    double Omega_G = 0.5 / 60.0;  // 1/s, gliotransmitter receptor inactivation rate
    double alpha_G = 0.0;         // 1, gliotransmission nature (0: depressing, 1: facilitating)
    // Astrocyte Ca2+ (Li-Rinzel with SERCA pump and leak)
    double O_P = 0.9;      // uM/s, maximal SERCA uptake rate
    double K_P = 0.05;     // uM, SERCA Ca2+ affinity
    double C_T = 2.0;      // uM, total cell free Ca2+ content
    double rho_A = 0.18;   // 1, ER-to-cytosol volume ratio
    double Omega_C = 6.0;  // 1/s, maximal IP3R flux rate
    double Omega_L = 0.1;  // 1/s, Ca2+ leak rate
    double d_1 = 0.13;     // uM, IP3 binding affinity
    double d_2 = 1.05;     // uM, Ca2+ inactivation dissociation constant
    double O_2 = 0.2;      // 1/(uM s), IP3R binding rate for Ca2+ inhibition
    double d_3 = 0.9434;   // uM, IP3 dissociation constant
    double d_5 = 0.08;     // uM, Ca2+ activation dissociation constant
    // Astrocyte IP3 (PLC-delta, IP3-3K, IP3-5P, exchange, glutamate-driven PLC-beta)
    double O_delta = 0.6;      // uM/s, maximal PLC-delta production rate
    double kappa_delta = 1.5;  // uM, inhibition constant of PLC-delta by IP3
    double K_delta = 0.1;      // uM, Ca2+ affinity of PLC-delta
    double Omega_5P = 0.05;    // 1/s, maximal IP3 degradation rate by IP3-5P
    double K_D = 0.7;          // uM, Ca2+ affinity of IP3-3K
    double K_3K = 1.0;         // uM, IP3 affinity of IP3-3K
    double O_3K = 4.5;         // uM/s, maximal IP3 degradation rate by IP3-3K
    double F_ex = 2.0;         // uM/s, maximal exchange rate of IP3 (J_ex)
    double I_Theta = 0.3;      // uM, threshold gradient of IP3 exchange
    double omega_I = 0.05;     // uM, scaling factor of the exchange
    double O_beta = 3.2;       // uM/s, maximal PLC-beta production rate
    double O_N = 0.3;          // 1/(uM s), astrocyte receptor binding rate for glutamate
    double Omega_N = 0.5;      // 1/s, astrocyte receptor unbinding rate
    double K_KC = 0.5;         // uM, Ca2+ affinity of PKC
    double zeta = 10.0;        // 1, maximal reduction of receptor affinity by PKC
    // Gliotransmitter release
    double C_Theta = 0.5;   // uM, Ca2+ threshold for release
    double Omega_A = 0.6;   // 1/s, gliotransmitter recycling rate
    double U_A = 0.6;       // 1, gliotransmitter release probability
    double G_T = 2e5;       // uM, total vesicular gliotransmitter (200 mM)
    double rho_e = 6.5e-4;  // 1, astrocytic vesicle-to-extracellular volume ratio
    double Omega_e = 60.0;  // 1/s, gliotransmitter clearance rate

    // Keys are the field names; each value is range-checked (rates and time constants > 0,
    // fractions in [0, 1], affinities > 0, production rates >= 0), errors name the key and line.
    static CalciumParams from_config(const ConfigSection& s);
    // The same checks for a struct filled in code; throws std::invalid_argument naming the field.
    void validate() const;
};

struct CalciumProtocol {
    std::string spikes = "regular";  // "regular" (t_k = t0 + k / rate), "poisson" or "none"
    double rate_hz = 1.0;            // presynaptic rate; 0 means no spikes (the rest state)
    double t0_s = 0.005;             // first regular spike; Poisson spikes start after t0
    std::uint64_t seed = 1;          // Poisson train (std::mt19937_64, exponential intervals)
};

// Default integrator of the calcium model: dopri5 with rel/abs tolerance 1e-10/1e-12 (the steady
// mean Ca must agree with an independent implementation within 1e-4 uM, and the oscillator amplifies
// small shifts of release times) and steps of at most 0.1 s so that no excursion of C through
// C_Theta hides inside one step.
IntegratorOptions calcium_integrator_defaults();

struct CalciumRunConfig {
    CalciumParams params;
    CalciumProtocol protocol;
    double duration_s = 300.0;
    double record_dt_s = 0.01;  // grid of the "trace" stream
    double stats_start_s = 120.0, stats_end_s = 300.0;
    IntegratorOptions integrator = calcium_integrator_defaults();
};

// Table [calcium]: duration_s, record_dt_s, stats_window_s = [start, end];
// subtables [calcium.input] (spikes, rate_hz, t0_s, seed), [calcium.params] (CalciumParams fields),
// [calcium.integrator] (read_integrator_options, defaults calcium_integrator_defaults()).
// Checks everything run_calcium() checks, so a bad value is a ConfigError naming file, line and key
// before any run file exists.
CalciumRunConfig read_calcium_config(const ConfigSection& calcium);

// What a run would take (sim/limits.hpp), knobs relative to the [calcium] table: presynaptic spikes,
// trace rows, bytes recorded, rk4 steps or the fewest dopri5 steps dt_max_s allows.
std::vector<Cost> calcium_costs(const CalciumRunConfig& cfg);
// Which [calcium] keys reduce the memory of a run, for an out-of-memory message.
std::string calcium_memory_advice();

struct CalciumSummary {
    double mean_ca_uM;         // steady mean Ca: over whole oscillation periods if Ca oscillates
    double window_start_s;     // interval mean_ca_uM averages over: first and last release in the
    double window_end_s;       // stats window when Ca oscillates, else the stats window itself
    bool oscillating;          // >= 3 releases (upward crossings of C_Theta) inside the stats window
    double period_s;           // mean interval between those releases; NaN if not oscillating
    long n_spikes;             // presynaptic spikes in the whole run
    long n_releases;           // gliotransmitter releases in the whole run
    double mean_ca_window_uM;  // plain mean over the stats window (biased when Ca oscillates)
    double amplitude_uM;       // max - min of C over the stats window
};

// Runs the model from the design's initial state. Records stream "trace" on the record_dt grid (columns
// Y_S, Gamma_S, u_S, x_S, Gamma_A, I, C, h, x_A, G_A), streams "spikes" and "releases" (time only)
// and summaries mean_ca, mean_ca_window, period, oscillating, amplitude, n_spikes, n_releases,
// window_start, window_end. Steady statistics are NaN when the run ends before stats_end_s.
// Throws IntegrationError (time and variable named) after flushing what was recorded.
CalciumSummary run_calcium(const CalciumRunConfig& cfg, Recorder& recorder, bool show_progress = false);

}  // namespace rmaat::sim
