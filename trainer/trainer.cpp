#include "trainer/trainer.hpp"

#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/interrupt.hpp"
#include "core/log.hpp"
#include "core/progress.hpp"
#include "core/provenance.hpp"
#include "kernels/cuda_dispatch.hpp"
#include "kernels/threads.hpp"
#include "tasks/batch.hpp"
#include "trainer/backprop.hpp"
#include "trainer/build_model.hpp"
#include "trainer/recurrence.hpp"
#include "trainer/run_file.hpp"
#include "trainer/train_config.hpp"

namespace rmaat::trainer {

namespace {

constexpr const char* kCheckpointFormat = "rmaat-checkpoint";
constexpr int64_t kCheckpointVersion = 1;
constexpr int64_t kFlushEvery = 10;  // steps between flushes of /train/metrics

using Clock = std::chrono::steady_clock;

// Marks the other stages' tables and checks that nothing else is left unread.
void finish_config(const Config& cfg) {
    for (const char* t : {"run", "network", "calcium", "calibration"})
        if (cfg.root().has(t)) cfg.ignore_section(t);
    cfg.check_all_used();
}

BatchTensors to_tensors(const tasks::Batch& b, const torch::Device& device) {
    BatchTensors t;
    auto ids = [](const std::vector<int32_t>& v, int64_t B, int64_t L) {
        return torch::from_blob(const_cast<int32_t*>(v.data()), {B, L}, torch::kInt32).to(torch::kLong);
    };
    auto mask = [](const std::vector<uint8_t>& v, int64_t B, int64_t L) {
        return torch::from_blob(const_cast<uint8_t*>(v.data()), {B, L}, torch::kUInt8).to(torch::kBool);
    };
    t.tokens = ids(b.tokens, b.B, b.L);
    t.mask = mask(b.mask, b.B, b.L);
    if (!b.tokens2.empty()) {
        t.tokens2 = ids(b.tokens2, b.B, b.L2);
        t.mask2 = mask(b.mask2, b.B, b.L2);
    }
    t.labels = torch::from_blob(const_cast<int64_t*>(b.labels.data()), {b.B}, torch::kLong).clone();
    if (!device.is_cpu()) {
        for (torch::Tensor* x : {&t.tokens, &t.mask, &t.tokens2, &t.mask2, &t.labels})
            if (x->defined()) *x = x->to(device);
    }
    return t;
}

// [train] device, checked against what this build and machine offer.
torch::Device training_device(const std::string& name) {
    const torch::Device d(name);
    if (d.is_cuda()) {
        if (!torch::cuda::is_available())
            throw InputError(
                fmt::format("[train] device = \"{}\": no CUDA device is available (this LibTorch is "
                            "CPU-only, or no GPU is visible)",
                            name));
        if (d.has_index() && d.index() >= static_cast<int>(torch::cuda::device_count()))
            throw InputError(
                fmt::format("[train] device = \"{}\": only {} CUDA device(s)", name, torch::cuda::device_count()));
    }
    return d;
}

int64_t pad_multiple(const layers::ModelOptions& o) {
    return o.recurrent() ? o.segment_length : 1;
}

double peak_rss_mb() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_maxrss) / 1024.0;
}

std::string absolute_dir(const std::string& dir) {
    char buf[PATH_MAX];
    if (realpath(dir.empty() ? "." : dir.c_str(), buf)) return buf;
    return dir;
}

std::string file_dir(const std::string& path) {
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

// Working files "<final>.partial.<pid>.<hex>" left by a process that no longer runs (a killed run of
// this output): removed before a resume writes new ones.
void remove_stale_partials(const std::string& final_path) {
    const std::string dir = file_dir(final_path);
    const auto slash = final_path.rfind('/');
    const std::string prefix = (slash == std::string::npos ? final_path : final_path.substr(slash + 1)) + ".partial.";
    DIR* d = opendir(dir.c_str());
    if (!d) return;
    while (const dirent* e = readdir(d)) {
        const std::string name = e->d_name;
        if (name.rfind(prefix, 0) != 0) continue;
        const long pid = std::strtol(name.c_str() + prefix.size(), nullptr, 10);
        if (pid > 0 && pid != getpid() && kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) {
            if (unlink((dir + "/" + name).c_str()) == 0) log::debug("removed {} (left by a stopped run)", name);
        }
    }
    closedir(d);
}

struct Session {
    RunConfig rc;
    std::string resolved_config, config_text, config_source, config_dir;
    RunData data;
    layers::Model model{nullptr};
    std::vector<std::string> names;
    std::vector<torch::Tensor> params, best;
    std::unique_ptr<AdamW> opt;
    TrainState state;
    std::string out, data_files[3];
    std::string device_override;  // TrainRequest::device
    torch::Device device{torch::kCPU};
    WorldInfo world;
    DataParallel* dp = nullptr;  // null: one process
};

void write_checkpoint(Session& s) {
    h5::File f = h5::File::create(checkpoint_path(s.out), Replace::yes);
    const h5::Group root = f.root();
    root.attr("format", std::string(kCheckpointFormat));
    root.attr("format_version", static_cast<std::int64_t>(kCheckpointVersion));
    write_provenance(root, s.resolved_config, s.rc.train.seed);
    root.attr("config_input", s.config_text);
    root.attr("config_source", s.config_source);
    root.attr("config_dir", s.config_dir);
    write_model(root, *s.model, s.best, s.state.best_step);
    write_optimizer(root, *s.opt, s.names);
    write_state(root, s.state, true);
    f.commit();
}

void write_run_attrs(const h5::Group& root, const Session& s) {
    write_provenance(root, s.resolved_config, s.rc.train.seed);
    root.attr("config_input", s.config_text);
    root.attr("config_source", s.config_source);
    root.attr("config_dir", s.config_dir);
    root.attr("task", s.rc.data.task);
    root.attr("device", s.device.str());  // where it trained (the config's, or --device's)
    root.attr("precision", std::string(kPrecisions.name(s.rc.train.precision)));
    root.attr("world_size", static_cast<std::int64_t>(s.world.size));  // data-parallel ranks of the last (re)start
    root.attr("data_train", s.data_files[0]);
    root.attr("data_val", s.data_files[1]);
    root.attr("data_test", s.data_files[2]);
    root.attr("calibration", s.model->macro().source);
}

// Reads and checks the config, the data and the model sizes; nothing is written yet.
void prepare(Session& s, const Config& cfg, bool progress) {
    s.rc = read_run_config(cfg, s.config_dir);
    finish_config(cfg);
    if (!s.device_override.empty()) {  // the command line's --device; the run file records the one used
        if (!is_device_name(s.device_override))
            throw InputError(fmt::format("--device \"{}\" is not a device: cpu, cuda or cuda:N", s.device_override));
        s.rc.train.device = s.device_override;
    }
    s.device = training_device(s.rc.train.device);
    if (s.device.is_cuda() && !s.device.has_index() && s.world.distributed())  // one GPU per rank of a node
        s.device = training_device(fmt::format("cuda:{}", s.world.local_rank));
    if (s.dp && s.rc.data.generate) {  // rank 0 generates the splits, every rank reads them
        std::vector<std::string> files;
        if (s.dp->rank() == 0) files = generate_run_data(s.rc.data, s.out, progress);
        files = s.dp->share_from_rank0(files);
        s.data = load_run_data(s.rc.data, s.out, progress, &files);
    } else {
        s.data = load_run_data(s.rc.data, s.out, progress);
    }
    fit_model_to_data(cfg, s.rc.model, s.data);
    s.resolved_config = cfg.resolved_text();
    if (s.rc.data.generate) {  // the generated files, as read
        s.data_files[0] = s.data.train.source;
        s.data_files[1] = s.data.val.source;
        s.data_files[2] = s.data.test.source;
    } else {
        s.data_files[0] = s.rc.data.train;
        s.data_files[1] = s.rc.data.val;
        s.data_files[2] = s.rc.data.test;
    }
}

EvalRow validate(layers::ModelImpl& model, const RunData& d, const TrainConfig& tc, int64_t step, DataParallel* dp) {
    const EvalResult r = evaluate(model, d.val, tc.batch_size, tc.eval_batches, dp, tc.precision);
    return {static_cast<double>(step), r.loss, r.accuracy};
}

}  // namespace

void check_train_config(const Config& cfg, const std::string& config_dir) {
    const RunConfig rc = read_run_config(cfg, config_dir);
    finish_config(cfg);
    (void)rc;
}

EvalResult evaluate(layers::ModelImpl& model, const tasks::Dataset& data, int64_t batch_size, int64_t max_batches,
                    DataParallel* dp, Precision precision) {
    EvalResult r;
    const int64_t C = model.options().n_classes;
    r.n_classes = C;
    r.confusion.assign(static_cast<size_t>(C * C), 0);
    if (data.examples.empty()) return r;
    const bool was_training = model.is_training();
    const torch::Device device = model.parameters().front().device();  // batches go where the model is
    model.eval();
    torch::NoGradGuard no_grad;
    tasks::BatcherOptions bo;
    bo.batch_size = batch_size;
    bo.shuffle = false;
    bo.pad_multiple = pad_multiple(model.options());
    tasks::Batcher batcher(data, bo);
    tasks::Batch global, shard;
    const int64_t S = model.options().segment_length;
    // Counts per number of segments, sized for the longest document the model takes (the same on every rank).
    const auto n_buckets = static_cast<size_t>(std::max<int64_t>(1, (model.options().max_len + S - 1) / S));
    std::vector<int64_t> bucket_n(n_buckets, 0), bucket_ok(n_buckets, 0);
    double loss_sum = 0;
    int64_t correct = 0;
    for (int64_t k = 0; (max_batches == 0 || k < max_batches) && batcher.next(global); ++k) {
        const tasks::Batch* b = &global;
        if (dp) {
            const auto [begin, end] = dp->shard(global.B);
            tasks::slice_batch(global, begin, end, shard);
            b = &shard;
        }
        if (b->B == 0) continue;
        const BatchTensors t = to_tensors(*b, device);
        torch::Tensor logits;
        {
            AutocastScope autocast(precision, device.type());
            logits = forward(model, t.tokens, t.mask, t.tokens2, t.mask2).logits.to(torch::kFloat);
        }
        loss_sum += torch::nn::functional::cross_entropy(
                        logits, t.labels, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                        .item<double>();
        const auto pred = logits.argmax(1).to(torch::kCPU).contiguous();
        const int64_t* p = pred.data_ptr<int64_t>();
        for (int64_t i = 0; i < b->B; ++i) {
            const int64_t y = b->labels[i];
            const bool ok = p[i] == y;
            correct += ok;
            r.confusion[static_cast<size_t>(y * C + p[i])] += 1;
            const auto seg =
                std::min(n_buckets, static_cast<size_t>(std::max<int64_t>(1, (b->lengths[i] + S - 1) / S)));
            bucket_n[seg - 1] += 1;
            bucket_ok[seg - 1] += ok;
        }
        r.n += b->B;
    }
    if (was_training) model.train();
    if (dp) {  // one exchange: n, correct, loss, the confusion matrix and the length buckets
        std::vector<double> v{static_cast<double>(r.n), static_cast<double>(correct), loss_sum};
        for (auto* part : {&r.confusion, &bucket_n, &bucket_ok}) v.insert(v.end(), part->begin(), part->end());
        dp->allreduce(v);
        size_t at = 0;
        auto take = [&] { return static_cast<int64_t>(std::llround(v[at++])); };
        r.n = take();
        correct = take();
        loss_sum = v[at++];
        for (auto* part : {&r.confusion, &bucket_n, &bucket_ok})
            for (auto& x : *part) x = take();
    }
    r.accuracy = r.n ? static_cast<double>(correct) / static_cast<double>(r.n) : 0.0;
    r.loss = r.n ? loss_sum / static_cast<double>(r.n) : 0.0;
    int64_t most = 0;
    for (int64_t y = 0; y < C; ++y) {
        int64_t row = 0;
        for (int64_t x = 0; x < C; ++x) row += r.confusion[static_cast<size_t>(y * C + x)];
        most = std::max(most, row);
    }
    r.majority = r.n ? static_cast<double>(most) / static_cast<double>(r.n) : 0.0;
    for (size_t k = 0; k < bucket_n.size(); ++k) {
        if (!bucket_n[k]) continue;
        r.bucket_segments.push_back(static_cast<int64_t>(k + 1));
        r.bucket_count.push_back(bucket_n[k]);
        r.bucket_accuracy.push_back(static_cast<double>(bucket_ok[k]) / static_cast<double>(bucket_n[k]));
    }
    return r;
}

void write_eval(const h5::Group& root, const EvalResult& r, const std::string& split, const std::string& weights) {
    const h5::Group g = root.group("eval");
    g.attr("split", split);
    g.attr("weights", weights);
    g.write("accuracy", std::vector<double>{r.accuracy}, {}, "1");
    g.write("loss", std::vector<double>{r.loss}, {}, "nat");
    g.write("majority", std::vector<double>{r.majority}, {}, "1");
    g.write("n", std::vector<std::int64_t>{r.n}, {}, "1");
    g.write("confusion", r.confusion, {static_cast<hsize_t>(r.n_classes), static_cast<hsize_t>(r.n_classes)}, "1");
    g.dataset_attr("confusion", "definition", "row = true class, column = predicted class");
    g.write("bucket_segments", r.bucket_segments, {r.bucket_segments.size()}, "1");
    g.write("bucket_count", r.bucket_count, {r.bucket_count.size()}, "1");
    g.write("bucket_accuracy", r.bucket_accuracy, {r.bucket_accuracy.size()}, "1");
}

std::string format_eval(const EvalResult& r) {
    std::string s = fmt::format("accuracy {:.4f} on {} examples (loss {:.4f}; majority class {:.4f})\n", r.accuracy,
                                r.n, r.loss, r.majority);
    s += "confusion (rows: true class, columns: predicted)\n     ";
    for (int64_t x = 0; x < r.n_classes; ++x) s += fmt::format("{:>6}", x);
    s += "\n";
    for (int64_t y = 0; y < r.n_classes; ++y) {
        s += fmt::format("{:>5}", y);
        for (int64_t x = 0; x < r.n_classes; ++x)
            s += fmt::format("{:>6}", r.confusion[static_cast<size_t>(y * r.n_classes + x)]);
        s += "\n";
    }
    s += "accuracy per length (segments: examples, accuracy)\n";
    for (size_t k = 0; k < r.bucket_segments.size(); ++k)
        s += fmt::format("  {:>3}: {:>6} {:.4f}\n", r.bucket_segments[k], r.bucket_count[k], r.bucket_accuracy[k]);
    return s;
}

namespace {

// Loads a checkpoint into `s` (config, data, model, optimiser, state); InputError naming the file.
void load_checkpoint(Session& s, const std::string& ckpt, bool progress) {
    try {
        const h5::File f = h5::File::open_read(ckpt);
        const h5::Group root = f.root();
        if (!root.has_attr("format") || root.attr_string("format") != kCheckpointFormat)
            throw h5::Error(fmt::format("{}: not an rmaat checkpoint (no format = \"{}\")", ckpt, kCheckpointFormat));
        if (root.attr_int("format_version") != kCheckpointVersion)
            throw h5::Error(fmt::format("{}: checkpoint format_version {} (this rmaat reads {})", ckpt,
                                        root.attr_int("format_version"), kCheckpointVersion));
        s.config_text = root.attr_string("config_input");
        s.config_source = root.attr_string("config_source");
        s.config_dir = root.attr_string("config_dir");
        const Config cfg = Config::from_string(s.config_text, s.config_source);
        prepare(s, cfg, progress);
        s.state = read_state(root);
        if (s.state.step > s.rc.train.steps)
            throw h5::Error(
                fmt::format("{}: step {} beyond the config's {} steps", ckpt, s.state.step, s.rc.train.steps));
        kernels::set_compute_threads(static_cast<int>(s.state.threads));
        s.model = load_model(f, false);
        s.model->to(s.device);  // before the optimiser's state is made alike the parameters
        const auto& a = s.model->options();
        const auto& b = s.rc.model.options;
        if (a.vocab_size != b.vocab_size || a.n_classes != b.n_classes || a.max_len != b.max_len)
            throw h5::Error(fmt::format("{}: the stored model sizes differ from the data's", ckpt));
        s.params = s.model->parameters();
        for (const auto& kv : s.model->named_parameters()) s.names.push_back(kv.key());
        s.opt = std::make_unique<AdamW>(s.params, AdamWOptions{0.9, 0.999, 1e-8, s.rc.train.weight_decay});
        read_optimizer(root, *s.opt, s.names);
        if (root.open_group("model").has("best")) {
            const h5::Group bg = root.open_group("model/best");
            for (const auto& p : s.params) s.best.push_back(torch::empty_like(p));
            for (size_t i = 0; i < s.names.size(); ++i) read_tensor_into(bg, s.names[i], s.best[i]);
        }
    } catch (const h5::Error& e) {
        throw InputError(fmt::format("cannot resume from '{}': {}", ckpt, e.what()));
    }
}

// A fresh run's model and optimiser from the request's config.
void start_fresh(Session& s, const TrainRequest& req, bool progress) {
    s.config_text = req.config_text;
    s.config_source = req.config_source;
    s.config_dir = absolute_dir(req.config_dir);
    const Config cfg = Config::from_string(s.config_text, s.config_source);
    prepare(s, cfg, progress);
    s.state.threads = s.rc.train.threads > 0 ? s.rc.train.threads : torch::get_num_threads();
    kernels::set_compute_threads(static_cast<int>(s.state.threads));
    torch::manual_seed(s.rc.train.seed);  // initialisation is the only use of torch's generator
    if (s.rc.model.calibration.empty()) s.rc.model.calibration = req.calibration;
    s.model = build_model(s.rc.model);
    s.model->to(s.device);  // before the optimiser's state is made alike the parameters
    s.params = s.model->parameters();
    for (const auto& kv : s.model->named_parameters()) s.names.push_back(kv.key());
    s.opt = std::make_unique<AdamW>(s.params, AdamWOptions{0.9, 0.999, 1e-8, s.rc.train.weight_decay});
}

// Every rank at the same step with the same model and batch size, then rank 0's weights and optimiser
// state everywhere (a rank whose files differ is refused, not silently overruled).
void join_ranks(Session& s, DataParallel& dp) {
    const std::vector<double> mine{static_cast<double>(s.state.step), static_cast<double>(s.params.size()),
                                   static_cast<double>(s.rc.train.batch_size),
                                   static_cast<double>(s.state.position.epoch),
                                   static_cast<double>(s.state.position.batch)};
    std::vector<double> hi = mine, lo = mine;
    for (auto& x : lo) x = -x;
    dp.allreduce(hi, true);
    dp.allreduce(lo, true);
    for (size_t i = 0; i < mine.size(); ++i)
        if (hi[i] != -lo[i])
            throw RunError(
                fmt::format("data-parallel rank {}: the ranks disagree on the step, the model, the batch "
                            "size or the data position (step {}, {} parameters, batch {}); start every "
                            "rank with the same config and files",
                            dp.rank(), s.state.step, s.params.size(), s.rc.train.batch_size));
    std::vector<torch::Tensor> state = s.params;
    state.insert(state.end(), s.opt->m().begin(), s.opt->m().end());
    state.insert(state.end(), s.opt->v().begin(), s.opt->v().end());
    dp.broadcast(state);
}

// FNV-1a over the parameters' bytes, cut to 52 bits so that it travels exactly as a double.
int64_t weight_hash(const std::vector<torch::Tensor>& params) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (const auto& p : params) {
        const auto c = p.detach().to(torch::kCPU).contiguous();
        const auto* b = static_cast<const unsigned char*>(c.data_ptr());
        for (size_t i = 0; i < static_cast<size_t>(c.nbytes()); ++i) h = (h ^ b[i]) * 0x100000001b3ull;
    }
    return static_cast<int64_t>(h & ((1ull << 52) - 1));
}

// The ranks end with the same weights, bit for bit (the same reduced gradients, the same AdamW): each
// rank's hash goes to every rank, a difference is an error, and rank 0 stores them (/train/rank_weight_hash).
void check_ranks_agree(const Session& s, DataParallel& dp, const h5::Group* root) {
    std::vector<double> hashes(static_cast<size_t>(dp.size()), 0.0);
    hashes[static_cast<size_t>(dp.rank())] = static_cast<double>(weight_hash(s.params));
    dp.allreduce(hashes);
    std::vector<int64_t> stored;
    for (const double h : hashes) stored.push_back(static_cast<int64_t>(h));
    if (root) {
        const h5::Group g = root->group("train");
        g.write("rank_weight_hash", stored, {stored.size()}, "1");
        g.dataset_attr("rank_weight_hash", "definition", "52-bit FNV-1a of each rank's final weights (all equal)");
    }
    for (const int64_t h : stored)
        if (h != stored.front())
            throw RunError(
                fmt::format("data-parallel rank {}: the ranks' weights differ at step {} (hashes {}); "
                            "a rank computed something else",
                            dp.rank(), s.state.step, fmt::join(stored, ", ")));
}

}  // namespace

TrainResult train(const TrainRequest& req) {
    Session s;
    s.out = req.out;
    s.device_override = req.device;
    s.world = req.world;
    const bool lead = s.world.rank == 0;  // the rank that writes files
    const bool progress = req.progress && lead;
    const std::string ckpt = checkpoint_path(req.out);
    std::unique_ptr<DataParallel> dp;
    if (s.world.distributed()) {
        dp = std::make_unique<DataParallel>(s.world, req.dist_timeout_s);
        s.dp = dp.get();
    }
    bool resumed = false;
    if (req.resume) {
        if (access(ckpt.c_str(), F_OK) != 0) {
            if (access(req.out.c_str(), F_OK) == 0)
                throw InputError(
                    fmt::format("{}: the run is complete (no checkpoint '{}' left to resume)", req.out, ckpt));
            throw InputError(fmt::format("cannot resume '{}': no checkpoint '{}'", req.out, ckpt));
        }
        if (access(req.out.c_str(), F_OK) == 0 && !req.force) {
            // Killed between publishing the run file and removing the checkpoint: the run is complete.
            if (lead) std::remove(ckpt.c_str());
            throw InputError(
                fmt::format("{}: the run is complete (its checkpoint was a leftover and is removed)", req.out));
        }
        load_checkpoint(s, ckpt, progress);
        resumed = true;
        if (lead) log::info("resuming {} from step {} ({})", req.out, s.state.step, ckpt);
    } else {
        start_fresh(s, req, progress);
    }
    if (dp) {
        dp->attach_device(s.device);
        join_ranks(s, *dp);
        if (lead)
            log::info("data parallel: {} ranks, {} rows of each global batch of {} on rank 0", s.world.size,
                      dp->shard(s.rc.train.batch_size).second, s.rc.train.batch_size);
    }
    const TrainConfig& tc = s.rc.train;
    const bool has_val = !s.data.val.examples.empty();

    tasks::BatcherOptions bo;
    bo.batch_size = tc.batch_size;
    bo.pad_multiple = pad_multiple(s.model->options());
    bo.seed = tc.seed;
    tasks::Batcher batcher(s.data.train, bo);
    if (resumed) batcher.restore(s.state.position);
    s.state.position = batcher.position();

    // Only rank 0 writes: the run file, its metrics and the checkpoints.
    std::optional<h5::File> run;
    std::optional<h5::Group> root;
    MetricsStream stream;
    if (lead) {
        remove_stale_partials(req.out);  // a killed run's working file: its rows are in the checkpoint
        remove_stale_partials(ckpt);
        run.emplace(h5::File::create(req.out, req.force ? Replace::yes : Replace::no));
        root.emplace(run->root());
        write_run_attrs(*root, s);
        root->attr("status", std::string("running"));
        stream = MetricsStream(root->group("train"));
        for (const auto& r : s.state.metrics) stream.append(r);
        for (const auto& r : s.state.evals) stream.append(r);
        stream.flush();
        run->flush();
        if (!resumed) write_checkpoint(s);
    }

    const int64_t ckpt_every = tc.checkpoint_every > 0 ? tc.checkpoint_every
                               : tc.eval_every > 0     ? tc.eval_every
                                                       : tc.steps;
    // Dropout keys: rank r's rows draw from seed ^ r * golden, so the ranks' masks are independent.
    const uint64_t dropout_seed = tc.seed ^ (static_cast<uint64_t>(s.world.rank) * 0x9E3779B97F4A7C15ull);
    s.model->train();
    Progress bar("train", static_cast<double>(tc.steps - s.state.step), "steps", progress);
    const auto t_start = Clock::now();
    const double elapsed0 = s.state.elapsed_s;
    const int64_t first_step = s.state.step;
    tasks::Batch batch, shard;
    // Data parallel: stop requests travel with each step's gradient exchange (no collective of their own),
    // so all ranks stop after the same step; a spent time budget is acted on one step later.
    int agreed_signal = 0;
    bool agreed_out_of_time = false, out_of_time_here = false;
    auto stop_here = [&](int sig) {
        if (lead) {
            write_checkpoint(s);
            stream.flush();
            root->attr("status", std::string("interrupted"));
            run->close();
        }
        throw Interrupted(sig, fmt::format("training stopped by {} at step {}; checkpoint '{}' (resume with `rmaat "
                                           "train --resume {}`); the partial run file is '{}'",
                                           signal_name(sig), s.state.step, ckpt, req.out,
                                           run ? run->working_path() : std::string("(written by rank 0)")));
    };
    if (s.device.is_cuda()) kernels::cuda_reset_max_memory_allocated(s.device.index());
    while (s.state.step < tc.steps) {
        if (const int sig = dp ? agreed_signal : stop_signal()) stop_here(sig);
        if (!batcher.next(batch) && !batcher.next(batch)) throw RunError("the training split yields no batch");
        const auto t0 = Clock::now();
        const int64_t step = s.state.step + 1;
        const tasks::Batch* mine = &batch;
        if (dp) {
            const auto [begin, end] = dp->shard(batch.B);
            tasks::slice_batch(batch, begin, end, shard);
            mine = &shard;
        }
        s.opt->zero_grad();
        double loss = 0, acc = 0;
        int64_t tokens = 0;
        for (auto l : mine->lengths) tokens += l;
        for (auto l : mine->lengths2) tokens += l;
        const double share = dp ? static_cast<double>(mine->B) / static_cast<double>(batch.B) : 1.0;
        if (dp) dp->begin_backward(s.params, share, tc.backprop == Backprop::bptt);
        if (mine->B > 0) {
            const BatchTensors bt = to_tensors(*mine, s.device);
            const BackpropResult res = backprop(*s.model, bt, tc.backprop, StepKey{dropout_seed, step}, tc.precision);
            loss = res.loss.item<double>();
            acc = res.logits.argmax(1).eq(bt.labels).to(torch::kDouble).mean().item<double>();
        }
        if (dp) {  // the one exchange of the step: gradients; loss, correct answers, tokens; stop requests
            const int sig = stop_signal();
            std::vector<double> sums{loss * share,
                                     acc * share,
                                     static_cast<double>(tokens),
                                     sig == SIGINT ? 1.0 : 0,
                                     sig && sig != SIGINT ? 1.0 : 0,
                                     out_of_time_here ? 1.0 : 0};
            dp->reduce_gradients(s.params, share, sums);
            loss = sums[0];
            acc = sums[1];
            tokens = static_cast<int64_t>(std::llround(sums[2]));
            agreed_signal = sums[4] > 0 ? SIGTERM : sums[3] > 0 ? SIGINT : 0;
            agreed_out_of_time = sums[5] > 0;
        }
        if (!std::isfinite(loss)) throw RunError(fmt::format("the loss is not finite at step {} ({})", step, loss));
        const auto& mg = s.model->memory.defined() ? s.model->memory.grad() : torch::Tensor();
        const double mem_norm = mg.defined() ? mg.to(torch::kDouble).norm().item<double>() : 0.0;
        const double gnorm = clip_grad_norm(s.params, tc.clip);
        const double lr = learning_rate(tc.schedule, tc.lr, tc.warmup, tc.steps, step);
        s.opt->step(lr);
        s.state.step = step;
        s.state.position = batcher.position();
        const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
        const MetricRow row{static_cast<double>(step),
                            loss,
                            acc,
                            lr,
                            gnorm,
                            mem_norm,
                            dt > 0 ? static_cast<double>(tokens) / dt : 0.0,
                            peak_rss_mb()};
        s.state.metrics.push_back(row);
        if (lead) {
            stream.append(row);
            if (step % kFlushEvery == 0) {
                stream.flush();
                run->flush();
            }
        }
        const bool last = step == tc.steps;
        if (has_val && ((tc.eval_every > 0 && step % tc.eval_every == 0) || last)) {
            const EvalRow e = validate(*s.model, s.data, tc, step, s.dp);
            s.state.evals.push_back(e);
            if (lead) stream.append(e);
            if (e.accuracy > s.state.best_accuracy) {
                s.state.best_accuracy = e.accuracy;
                s.state.best_step = step;
                s.best.clear();
                for (const auto& p : s.params) s.best.push_back(p.detach().clone());
            }
            log::debug("step {}: validation accuracy {:.4f}, loss {:.4f}", step, e.accuracy, e.loss);
        }
        s.state.elapsed_s = elapsed0 + std::chrono::duration<double>(Clock::now() - t_start).count();
        bool out_of_time = tc.time_budget_s > 0 && s.state.elapsed_s >= tc.time_budget_s;
        if (dp) {  // every rank stops at the same step boundary: what the ranks said in this step's exchange
            out_of_time_here = out_of_time;
            out_of_time = agreed_out_of_time;
        }
        if (lead && (step % ckpt_every == 0 || last || out_of_time)) write_checkpoint(s);
        bar.note(fmt::format("loss {:.3f} acc {:.3f} {:.0f} tok/s", loss, acc, row.tokens_per_s));
        bar.update(static_cast<double>(step - first_step));
        if (out_of_time) {
            if (lead) log::warn("time budget of {} s reached at step {} of {}", tc.time_budget_s, step, tc.steps);
            break;
        }
    }
    bar.finish();
    if (dp) check_ranks_agree(s, *dp, root ? &*root : nullptr);

    // The run file: final weights, best weights, optimiser and state, then the test split.
    if (lead) {
        write_model(*root, *s.model, s.best, s.state.best_step);
        write_optimizer(*root, *s.opt, s.names);
        write_state(*root, s.state, false);
        stream.flush();
    }
    TrainResult result;
    if (s.device.is_cuda()) {  // max_memory_allocated of this (re)start's training loop
        result.peak_device_memory_mb =
            static_cast<double>(kernels::cuda_max_memory_allocated(s.device.index())) / (1 << 20);
        if (lead) root->attr("peak_device_memory_mb", result.peak_device_memory_mb);
    }
    result.steps = s.state.step;
    result.run_file = req.out;
    if (!s.data.test.examples.empty()) {
        std::string weights = "final";
        std::vector<torch::Tensor> final_params;
        if (!s.best.empty()) {
            torch::NoGradGuard no_grad;
            for (size_t i = 0; i < s.params.size(); ++i) {
                final_params.push_back(s.params[i].detach().clone());
                s.params[i].copy_(s.best[i]);
            }
            weights = fmt::format("best (step {})", s.state.best_step);
        }
        result.test = evaluate(*s.model, s.data.test, tc.batch_size, 0, s.dp, tc.precision);
        if (lead) write_eval(*root, result.test, "test", weights);
        torch::NoGradGuard no_grad;
        for (size_t i = 0; i < final_params.size(); ++i) s.params[i].copy_(final_params[i]);
    }
    if (dp) dp->barrier();  // no rank reports success before every rank has finished
    if (lead) {
        root->attr("status", std::string("complete"));
        run->commit();
        std::remove(ckpt.c_str());
    }
    return result;
}

}  // namespace rmaat::trainer
