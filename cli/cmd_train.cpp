// `rmaat train` and `rmaat eval` (docs/design.md section 7.1): the trainer of trainer/trainer.hpp.
#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "core/h5_store.hpp"
#include "core/interrupt.hpp"
#include "core/log.hpp"
#include "core/provenance.hpp"
#include "kernels/threads.hpp"
#include "sim/simulate.hpp"
#include "tasks/registry.hpp"
#include "trainer/launch.hpp"
#include "trainer/run_file.hpp"
#include "trainer/trainer.hpp"

namespace rmaat::cli {

trainer::TrainRequest train_request(const std::string& config_path, bool demo, const std::string& out, bool force) {
    trainer::TrainRequest r;
    const ConfigInput in = load_config_input("train", config_path, demo);  // bounds and TOML checked here
    if (demo) {
        r.config_text = sim::demo_config_text();
    } else {
        std::ifstream f(config_path, std::ios::binary);
        r.config_text.assign(std::istreambuf_iterator<char>(f), {});
    }
    r.config_source = demo ? "<built-in demo>" : config_path;
    r.config_dir = in.dir;
    r.out = out;
    r.force = force;
    return r;
}

// The arguments without --nproc (and its value): what each rank of `--nproc N` runs.
std::vector<std::string> rank_arguments() {
    std::vector<std::string> out;
    const auto& args = command_args();
    for (size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--nproc") {
            ++i;
            continue;
        }
        if (args[i].rfind("--nproc=", 0) == 0) continue;
        out.push_back(args[i]);
    }
    return out;
}

void run_training(trainer::TrainRequest req, int nproc, double timeout_s) {
    req.world = trainer::world_from_env();
    req.dist_timeout_s = timeout_s;
    if (nproc > 1) {
        if (req.world.distributed())
            throw InputError(
                fmt::format("--nproc {} inside a rank of a launched job (WORLD_SIZE={}): give one or "
                            "the other",
                            nproc, req.world.size));
        if (!trainer::data_parallel_available())
            throw InputError(
                fmt::format("--nproc {}: this build of rmaat has no torch.distributed (c10d with Gloo)", nproc));
        const int code = trainer::launch_local(nproc, rank_arguments(), std::min(timeout_s, 60.0));
        if (code == 0) return;
        if (const int sig = stop_signal())  // this launcher was asked to stop, and passed it on
            throw Interrupted(sig, fmt::format("--nproc {}: the ranks were stopped by {}; resume with `rmaat train "
                                               "--resume {} --nproc {}`",
                                               nproc, signal_name(sig), req.out, nproc));
        throw RunError(
            fmt::format("--nproc {}: a rank failed (exit {}); its error is above. Resume with "
                        "`rmaat train --resume {} --nproc {}`",
                        nproc, code, req.out, nproc));
    }
    if (req.world.rank != 0 && log::level() == log::Level::info) log::set_level(log::Level::warn);
    log::info("training {} -> {}", req.resume ? "(resume)" : req.config_source, req.out);
    const trainer::TrainResult r = trainer::train(req);
    if (r.test.n > 0 && req.world.rank == 0) fmt::print("test {}", trainer::format_eval(r.test));
    if (r.peak_device_memory_mb >= 0) log::info("peak device memory {:.1f} MiB", r.peak_device_memory_mb);
    log::info("wrote {} ({} steps)", r.run_file, r.steps);
}

void add_train(CLI::App& app) {
    auto* cmd =
        app.add_subcommand("train",
                           "Train a model from a config with [train], [data] and [model] tables into a run file; "
                           "--resume continues a stopped run from its checkpoint (RUN.h5.ckpt)");
    struct Opts {
        std::string config, out, resume, device;
        bool force = false, demo = false;
        int nproc = 1;
        double timeout_s = 300;
    };
    auto o = std::make_shared<Opts>();
    cmd->add_option("config", o->config, "Config file (TOML)")->check(CLI::ExistingFile);
    cmd->add_flag("--demo", o->demo, "Use the built-in demo config (examples/demo.toml)");
    cmd->add_option("-o,--output", o->out, "Run file to write (HDF5)");
    cmd->add_option("--resume", o->resume, "Continue the run RUN.h5 from its checkpoint RUN.h5.ckpt");
    cmd->add_flag("-f,--force", o->force, "Overwrite an existing run file");
    cmd->add_option("--device", o->device, "cpu, cuda or cuda:N, instead of the config's [train] device");
    cmd->add_option("--nproc", o->nproc,
                    "Data-parallel ranks on this machine (each takes its rows of every global batch; for torchrun "
                    "or Slurm, start one rmaat per rank instead: README)")
        ->check(CLI::Range(1, 1024))
        ->capture_default_str();
    cmd->add_option("--timeout", o->timeout_s,
                    "Seconds a data-parallel rank waits for the others (store, collectives) before it fails")
        ->check(CLI::Range(1.0, 86400.0))
        ->capture_default_str();
    cmd->callback([o] {
        if (!o->resume.empty()) {
            if (!o->config.empty() || o->demo)
                throw CLI::ValidationError("train",
                                           "--resume takes the config stored in the checkpoint; give no config");
            if (!o->out.empty() && o->out != o->resume)
                throw CLI::ValidationError("train", "--resume RUN.h5 writes RUN.h5; leave out -o");
            trainer::TrainRequest r;
            r.out = o->resume;
            r.resume = true;
            r.force = o->force;
            r.device = o->device;
            run_training(r, o->nproc, o->timeout_s);
            return;
        }
        check_output("train", o->out, o->force);
        trainer::TrainRequest r = train_request(o->config, o->demo, o->out, o->force);
        r.device = o->device;
        run_training(r, o->nproc, o->timeout_s);
    });
}

void add_eval(CLI::App& app) {
    auto* cmd = app.add_subcommand(
        "eval", "Evaluate a trained run file on a split of its data, or on another data file of the same task");
    struct Opts {
        std::string run, data, split = "test";
        bool final_weights = false;
        int64_t batch_size = 0;
    };
    auto o = std::make_shared<Opts>();
    cmd->add_option("run", o->run, "Run file written by `rmaat train`")->required()->check(CLI::ExistingFile);
    cmd->add_option("--data", o->data, "A data file or directory of the run's task (default: the run's split)");
    cmd->add_option("--split", o->split, "Split of the run's data: train, val or test")
        ->check(CLI::IsMember({"train", "val", "test"}))
        ->capture_default_str();
    cmd->add_flag("--final", o->final_weights, "Use the final weights, not the best validation checkpoint's");
    cmd->add_option("--batch-size", o->batch_size, "Batch size (default: the run's)");
    cmd->callback([o] {
        const h5::File f = h5::File::open_read(o->run);
        const h5::Group root = f.root();
        std::string weights;
        layers::Model model = trainer::load_model(f, !o->final_weights, &weights);
        if (!root.has_attr("task")) throw h5::Error(o->run + ": not a training run (no task attribute)");
        const std::string task = root.attr_string("task");
        std::string path = o->data;
        if (path.empty()) {
            path = root.attr_string("data_" + o->split);
            if (path.empty())
                throw InputError(fmt::format("{}: the run has no {} split; give --data FILE", o->run, o->split));
        }
        const tasks::Dataset d = tasks::read_task(task, path);
        if (d.vocab.size() != model->options().vocab_size || d.n_classes != model->options().n_classes)
            throw InputError(fmt::format("{}: vocabulary {} / {} classes, the model has {} / {}", path, d.vocab.size(),
                                         d.n_classes, model->options().vocab_size, model->options().n_classes));
        int64_t bs = o->batch_size;
        if (bs <= 0) bs = 32;
        kernels::set_compute_threads(0);  // torch's default pool; OpenBLAS's own kept to one thread
        const trainer::EvalResult r = trainer::evaluate(*model, d, bs);
        fmt::print("{}: {} weights on {}\n{}", o->run, weights, path, trainer::format_eval(r));
    });
}

}  // namespace rmaat::cli
