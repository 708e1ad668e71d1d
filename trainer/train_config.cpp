#include "trainer/train_config.hpp"

#include <regex>

#include <algorithm>

#include <fmt/format.h>

#include "core/choices.hpp"
#include "core/log.hpp"
#include "tasks/registry.hpp"

namespace rmaat::trainer {

namespace {

std::string resolve(const std::string& p, const std::string& dir) {
    if (p.empty() || p.front() == '/' || dir.empty()) return p;
    return dir + "/" + p;
}

int64_t longest(const tasks::Dataset& d) {
    int64_t n = 0;
    for (const auto& e : d.examples)
        n = std::max<int64_t>(n, static_cast<int64_t>(std::max(e.tokens.size(), e.tokens2.size())));
    return n;
}

}  // namespace

bool has_train(const Config& cfg) {
    return cfg.root().has("train");
}

bool is_device_name(const std::string& name) {
    return std::regex_match(name, std::regex("cpu|cuda(:[0-9]{1,3})?"));
}

RunConfig read_run_config(const Config& cfg, const std::string& config_dir) {
    RunConfig r;
    const ConfigSection t = cfg.section("train");
    TrainConfig& c = r.train;
    const TrainConfig d;
    c.steps = t.get_int("steps", d.steps, Range::closed(1, 1e12));
    c.batch_size = t.get_int("batch_size", d.batch_size, Range::closed(1, 1e6));
    c.lr = t.get_double("lr", d.lr, Range::positive());
    c.warmup = t.get_int("warmup", d.warmup, Range::closed(1, 1e12));
    c.schedule = get_choice(t, "schedule", d.schedule, kSchedules);
    c.weight_decay = t.get_double("weight_decay", d.weight_decay, Range::non_negative());
    c.clip = t.get_double("clip", d.clip, Range::non_negative());
    c.eval_every = t.get_int("eval_every", d.eval_every, Range::closed(0, 1e12));
    c.eval_batches = t.get_int("eval_batches", d.eval_batches, Range::closed(0, 1e12));
    c.checkpoint_every = t.get_int("checkpoint_every", d.checkpoint_every, Range::closed(0, 1e12));
    c.seed = static_cast<uint64_t>(t.get_int("seed", static_cast<int64_t>(d.seed), Range::closed(0, 9.0e15)));
    c.backprop = get_choice(t, "backprop", d.backprop, kBackprops);
    c.precision = get_choice(t, "precision", d.precision, kPrecisions);
    c.threads = t.get_int("threads", d.threads, Range::closed(0, 4096));
    c.time_budget_s = t.get_double("time_budget_s", d.time_budget_s, Range::non_negative());
    c.device = t.get_string("device", d.device);
    if (!is_device_name(c.device))
        throw t.error("device", fmt::format("\"{}\" is not a device: cpu, cuda or cuda:N", c.device));

    const ConfigSection s = cfg.section("data");
    DataConfig& dc = r.data;
    dc.task = s.get_string("task", "", tasks::task_names());
    if (dc.task.empty())
        throw s.error("task", "name the task (known: " + fmt::format("{}", fmt::join(tasks::task_names(), ", ")) + ")");
    dc.generate = s.get_bool("generate", false);
    dc.train = resolve(s.get_string("train", ""), config_dir);
    dc.val = resolve(s.get_string("val", ""), config_dir);
    dc.test = resolve(s.get_string("test", ""), config_dir);
    dc.n_train = s.get_int("n_train", -1, Range::closed(-1, 1e9));
    dc.n_val = s.get_int("n_val", -1, Range::closed(-1, 1e9));
    dc.n_test = s.get_int("n_test", -1, Range::closed(-1, 1e9));
    dc.seed = static_cast<uint64_t>(s.get_int("seed", 1, Range::closed(0, 9.0e15)));
    dc.variant = s.get_string("variant", "");
    if (dc.generate) {
        if (!tasks::find_task(dc.task).generate)
            throw s.error("generate", fmt::format("task \"{}\" has no generator; give train/val/test paths", dc.task));
        for (const char* k : {"train", "val", "test"})
            if (s.has(k)) throw s.error(k, "generated data has no paths (generate = true)");
    } else if (dc.train.empty()) {
        throw s.error("train", "give the training data path, or generate = true");
    }
    r.model = layers::read_model_config(cfg.section("model"), config_dir);
    return r;
}

std::vector<std::string> generate_run_data(const DataConfig& d, const std::string& run_path, bool progress) {
    tasks::GenerateOptions g;
    g.out_dir = run_path + ".data";
    g.n_train = d.n_train;
    g.n_val = d.n_val;
    g.n_test = d.n_test;
    g.seed = d.seed;
    g.variant = d.variant;
    g.force = true;  // the same seed and counts write the same files (a resume regenerates them)
    g.progress = progress;
    const tasks::GenerateResult gr = tasks::generate_task(d.task, g);
    log::info("generated {} data into {}", d.task, g.out_dir);
    return gr.files;
}

RunData load_run_data(const DataConfig& d, const std::string& run_path, bool progress,
                      const std::vector<std::string>* generated) {
    RunData r;
    std::string train = d.train, val = d.val, test = d.test;
    if (d.generate) {
        const std::vector<std::string> files = generated ? *generated : generate_run_data(d, run_path, progress);
        train = files.size() > 0 ? files[0] : "";
        val = files.size() > 1 ? files[1] : "";
        test = files.size() > 2 ? files[2] : "";
    }
    r.train = tasks::read_task(d.task, train);
    if (!val.empty()) r.val = tasks::read_task(d.task, val);
    if (!test.empty()) r.test = tasks::read_task(d.task, test);
    if (r.train.examples.empty()) throw InputError(fmt::format("{}: the training split holds no examples", train));
    return r;
}

void fit_model_to_data(const Config& cfg, layers::ModelConfig& model, const RunData& data) {
    const ConfigSection s = cfg.section("model");
    layers::ModelOptions& o = model.options;
    const int64_t vocab = data.train.vocab.size(), classes = data.train.n_classes;
    if (s.has("vocab_size") && o.vocab_size != vocab)
        throw s.error("vocab_size", fmt::format("{} disagrees with the data's vocabulary \"{}\" of {} ids (leave "
                                                "vocab_size out: it comes from the data)",
                                                o.vocab_size, data.train.vocab.name, vocab));
    if (s.has("n_classes") && o.n_classes != classes)
        throw s.error("n_classes", fmt::format("{} disagrees with the data's {} classes (leave n_classes out: it "
                                               "comes from the data)",
                                               o.n_classes, classes));
    if (data.train.pair != (o.head == layers::Head::match))
        throw s.error("head", data.train.pair ? "the data holds pairs of documents: use head = \"match\""
                                              : "head \"match\" needs pairs of documents; this task has one");
    o.vocab_size = vocab;
    o.n_classes = classes;
    // Batches are padded to whole segments (recurrent kinds), so max_len covers the padded length.
    int64_t len = std::max({longest(data.train), longest(data.val), longest(data.test)});
    if (o.recurrent()) len = o.segments(len) * o.segment_length;
    if (s.has("max_len")) {
        if (o.max_len < len)
            throw s.error("max_len", fmt::format("{} is shorter than the longest document of the data ({} tokens)",
                                                 o.max_len, len));
    } else {
        o.max_len = len;
    }
    try {
        o.validate();
    } catch (const std::invalid_argument& e) {
        throw ConfigError(fmt::format("[model] with the data's sizes: {}", e.what()));
    }
}

}  // namespace rmaat::trainer
