#pragma once
// Training run files and checkpoints (docs/design.md section 7.3).
//
// A run writes two files next to each other:
//   RUN.h5        the run file, written under its working name RUN.h5.partial.<pid>.<hex> while the
//                 run trains (metrics streamed into /train/metrics, flushed every few steps, so h5py
//                 can read them while the run writes: read-only and without the file lock the writer
//                 holds, h5py.File(path, "r", locking=False); rows appear at each flush), published
//                 under its final name at the end.
//   RUN.h5.ckpt   the last checkpoint: a small, complete HDF5 file written under a working name and
//                 renamed over the previous one (so a kill -9 at any moment leaves the previous or
//                 the new checkpoint, never half of one). It holds everything a resume needs: the
//                 config text, the model's sizes and macro parameters, weights and buffers, the best
//                 weights so far, AdamW's moments and step, the data position, the step and the
//                 metrics rows so far. It is removed when the run file is published.
//
// Layout (both files; the checkpoint lacks /eval):
//   /model  attrs vocab_size, n_classes, max_len (the effective sizes, taken from the data)
//     params/<name>, buffers/<name>    the module's named_parameters / named_buffers, as stored
//     best/<name>                      the weights of the best validation accuracy (attr step)
//     macro/{rf [T x T] 1, alpha 1, scale 1/token}
//   /train/optimizer  attrs step, beta1, beta2, eps;  m/<name>, v/<name>
//   /train/state      attrs step, epoch, batch, best_step, best_accuracy, threads, elapsed_s
//   /train/metrics/{step, loss, accuracy, lr, grad_norm, memory_grad_norm, tokens_per_s, peak_rss_mb}
//   /train/eval/{step, loss, accuracy}        validation passes
//   /eval  attrs split, weights;  {accuracy, loss, n, confusion [C x C] (row true, column predicted),
//          bucket_segments, bucket_count, bucket_accuracy}
// Values are stored as float64: float32 weights survive the round trip bit for bit.
#include <torch/torch.h>

#include <string>
#include <vector>

#include "core/h5_store.hpp"
#include "core/macro_parameters.hpp"
#include "layers/model_config.hpp"
#include "tasks/batch.hpp"
#include "trainer/optim.hpp"

namespace rmaat::trainer {

struct MetricRow {
    double step, loss, accuracy, lr, grad_norm, memory_grad_norm, tokens_per_s, peak_rss_mb;
};
inline constexpr const char* kMetricColumns[] = {
    "step", "loss", "accuracy", "lr", "grad_norm", "memory_grad_norm", "tokens_per_s", "peak_rss_mb"};
inline constexpr const char* kMetricUnits[] = {"1", "nat", "1", "1/step", "1", "1", "tokens/s", "MiB"};
inline constexpr double MetricRow::*kMetricFields[] = {&MetricRow::step,         &MetricRow::loss,
                                                       &MetricRow::accuracy,     &MetricRow::lr,
                                                       &MetricRow::grad_norm,    &MetricRow::memory_grad_norm,
                                                       &MetricRow::tokens_per_s, &MetricRow::peak_rss_mb};
struct EvalRow {
    double step, loss, accuracy;
};

// What a checkpoint holds besides the tensors.
struct TrainState {
    int64_t step = 0;
    tasks::BatchPosition position;
    int64_t best_step = -1;
    double best_accuracy = -1.0;
    int64_t threads = 1;
    double elapsed_s = 0.0;
    std::vector<MetricRow> metrics;
    std::vector<EvalRow> evals;
};

// Metrics streamed into a run file being written: one extendible dataset per column.
class MetricsStream {
public:
    MetricsStream() = default;
    explicit MetricsStream(const h5::Group& train);
    void append(const MetricRow& r);
    void append(const EvalRow& r);
    void flush();

private:
    std::vector<h5::AppendableDataset> m_, e_;
};

void write_tensor(const h5::Group& g, const std::string& name, const torch::Tensor& t, const std::string& units);
// Reads `name` into `t` (same shape; converted to its dtype); h5::Error when the shape differs.
void read_tensor_into(const h5::Group& g, const std::string& name, torch::Tensor& t);

// /model: sizes, macro parameters, parameters, buffers and (when given) the best weights.
void write_model(const h5::Group& root, layers::ModelImpl& model, const std::vector<torch::Tensor>& best,
                 int64_t best_step);
// Rebuilds a model from a run file or checkpoint: [model] of the stored config text, the stored
// sizes and macro parameters, then the weights ("params", or "best" when `best` and present).
// InputError naming the file when anything is missing or of the wrong shape.
layers::Model load_model(const h5::File& f, bool best, std::string* weights_used = nullptr);

void write_optimizer(const h5::Group& root, AdamW& opt, const std::vector<std::string>& names);
void read_optimizer(const h5::Group& root, AdamW& opt, const std::vector<std::string>& names);
void write_state(const h5::Group& root, const TrainState& s, bool with_rows);
TrainState read_state(const h5::Group& root);

// The checkpoint's path for a run file.
inline std::string checkpoint_path(const std::string& run) {
    return run + ".ckpt";
}

}  // namespace rmaat::trainer
