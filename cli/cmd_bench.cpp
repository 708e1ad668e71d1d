#include <sstream>

#include "bench/data_bench.hpp"
#include "bench/sim_bench.hpp"
#include "cli/commands.hpp"
#if RMAAT_WITH_TORCH
#include "bench/dropout_bench.hpp"
#include "bench/layers_bench.hpp"
#include "bench/train_bench.hpp"
#include "layers/kinds.hpp"
#endif

namespace rmaat::cli {

void add_bench(CLI::App& app) {
    auto* cmd = app.add_subcommand("bench", "Benchmarks; each prints a Markdown table naming its configuration");
    cmd->require_subcommand(1);
    auto* sim = cmd->add_subcommand("sim", "Simulator speed: network model (dense vs fast coupling) and calcium model");
    auto o = std::make_shared<bench::SimBenchOptions>();
    sim->add_option("--sides", o->sides, "Network sizes (n_pre = n_post = side)")->capture_default_str();
    sim->add_option("--paths", o->paths, "Coupling paths")
        ->check(CLI::IsMember({"dense", "fast"}))
        ->capture_default_str();
    sim->add_option("--method", o->method, "Integrator")
        ->check(CLI::IsMember({"dopri5", "rk4"}))
        ->capture_default_str();
    sim->add_option("--dt", o->dt_s, "RK4 step (s)")->check(CLI::PositiveNumber)->capture_default_str();
    sim->add_option("--cycles", o->cycles, "STP cycles per network run")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    sim->add_option("--repeats", o->repeats, "Repeats (best is reported)")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    sim->add_option("--calcium-rate", o->calcium_rate_hz, "Calcium model input rate (Hz)")->capture_default_str();
    sim->add_option("--calcium-duration", o->calcium_duration_s, "Calcium model duration (s)")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    sim->add_flag("!--no-calcium", o->calcium, "Skip the calcium model");
    sim->callback([o] { bench::run_sim_bench(*o); });
#if RMAAT_WITH_TORCH  // a build without LibTorch (RMAAT_WITH_TORCH=OFF) has no `bench layers`

    auto* layers = cmd->add_subcommand(
        "layers", "Attention layer speed (CPU): astromorphic vs softmax, forward + backward time per token");
    auto lo = std::make_shared<bench::LayersBenchOptions>();
    layers->add_option("--sizes", lo->sizes, "Sequence lengths N")->check(CLI::PositiveNumber)->capture_default_str();
    layers->add_option("--kinds", lo->kinds, "Attention kinds")
        ->check(CLI::IsMember(layers::kAttentionKinds.names()))
        ->capture_default_str();
    layers->add_option("--repeats", lo->repeats, "Repeats after one warm-up (best is reported)")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    layers->add_option("--threads", lo->threads, "Torch intra-op threads (0: torch's default)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    layers->add_option("--batch", lo->batch, "Batch size B")->check(CLI::PositiveNumber)->capture_default_str();
    layers->add_option("--d-model", lo->d_model, "Model width")->check(CLI::PositiveNumber)->capture_default_str();
    layers->add_option("--heads", lo->n_heads, "Attention heads (must divide --d-model)")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    layers->add_flag("!--no-encoder", lo->encoder, "Time the attention layer only, not the encoder layer");
    layers->add_flag("!--no-memory", lo->memory, "Skip the peak memory measurement");
    layers->add_flag("!--no-kernel", lo->kernel,
                     "Skip the kernel table (kernels/astro_attention: autograd Function vs plain reference)");
    layers->callback([lo] { bench::run_layers_bench(*lo); });

    auto* dropout = cmd->add_subcommand(
        "dropout", "Keyed dropout speed (CPU): forward + backward vs torch::dropout, and its share of a training step");
    auto dro = std::make_shared<bench::DropoutBenchOptions>();
    dropout->add_option("--shape", dro->shape, "Tensor shape B N d (also the step's batch, length and width)")
        ->expected(3)
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    dropout->add_option("--p", dro->p, "Dropout rate")->check(CLI::Range(0.0, 0.999))->capture_default_str();
    dropout->add_option("--repeats", dro->repeats, "Repeats after one warm-up (best is reported)")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    dropout->add_option("--threads", dro->threads, "Torch intra-op threads (0: torch's default)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    dropout->add_option("--kind", dro->kind, "Model kind of the training step")
        ->check(CLI::IsMember(layers::kModelKinds.names()))
        ->capture_default_str();
    dropout->add_option("--backprop", dro->backprop, "Gradient method of the training step")
        ->check(CLI::IsMember({"bptt", "amrb"}))
        ->capture_default_str();
    dropout->add_option("--segment-length", dro->segment_length, "Segment length of recurrent kinds")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    dropout->add_flag("!--no-step", dro->step, "Skip the training-step table");
    dropout->callback([dro] { bench::run_dropout_bench(*dro); });

    auto* train = cmd->add_subcommand(
        "train", "Training step (CPU): AMRB vs BPTT peak memory and time, segments 8 -> 64, the baselines");
    auto tr = std::make_shared<bench::TrainBenchOptions>();
    train->add_option("--lengths", tr->lengths, "Sequence lengths of the AMRB vs BPTT table")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    train->add_option("--sweep-segments", tr->sweep_segments, "Segment counts of the growth table (empty: skip)")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    train->add_option("--batch", tr->batch, "Batch size")->check(CLI::PositiveNumber)->capture_default_str();
    train->add_option("--d-model", tr->d_model, "Model width (d_ff = 4 d_model)")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    train->add_option("--segment-length", tr->segment_length, "Segment length")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    train->add_option("--dropout", tr->dropout, "Dropout rate")->check(CLI::Range(0.0, 0.999))->capture_default_str();
    train->add_option("--steps", tr->steps, "Timed steps after one warm-up (best is reported)")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    train->add_option("--threads", tr->threads, "Torch intra-op threads (0: torch's default)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    train->add_flag("!--no-baselines", tr->baselines, "Skip the baselines table");
    train->add_option("--variant", tr->variant, "Internal: run one variant KIND:BACKPROP:LENGTH in this process")
        ->group("");
    train->callback([tr] { bench::run_train_bench(*tr); });
#endif

    auto* data = cmd->add_subcommand(
        "data", "Data speed: ListOps reader throughput on a 2K file, generation time of the splits");
    auto d = std::make_shared<bench::DataBenchOptions>();
    data->add_option("--samples", d->samples, "Examples in the file that is read")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    data->add_option("--repeats", d->repeats, "Reads of that file (best is reported)")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    data->add_option("--fraction", d->fraction, "Fraction of the default split sizes 96k/2k/2k to generate")
        ->check(CLI::Range(1e-6, 1.0))
        ->capture_default_str();
    data->add_option("--seed", d->seed, "Generator seed")->capture_default_str();
    data->add_option("--dir", d->dir, "Keep the files in this directory (default: a temporary one, removed)");
    data->callback([d] { bench::run_data_bench(*d); });
}

}  // namespace rmaat::cli
