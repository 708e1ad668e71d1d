#pragma once
// The training loop (docs/design.md section 6.2): batch, backprop, clip, step, one line each;
// evaluation every k steps, a checkpoint every m, the test evaluation at the end.
//
//   for step = s0 + 1 .. steps:
//       batch  = Batcher.next()                          (tasks/batch.hpp; padded to the segment length)
//       loss   = backprop(model, batch, method, StepKey{seed, step})   (gradients into .grad)
//       n      = clip_grad_norm(params, clip);  AdamW.step(lr_t)        (trainer/optim.hpp)
//       metrics row -> /train/metrics (flushed every 10 steps)
//       every eval_every: validation accuracy and loss -> /train/eval; best weights kept
//       every checkpoint_every: RUN.h5.ckpt replaced atomically (trainer/run_file.hpp)
//
// Determinism: the model is initialised from torch::manual_seed(seed) before it is built; after that
// nothing reads torch's global generator (shuffling is SplitMix64 from the seed, dropout is keyed by
// (seed, step, ...)); the thread count is fixed and stored. So on the CPU a run killed at any moment
// and resumed from its checkpoint ends with the same weights, bit for bit, as a run never stopped.
// SIGINT/SIGTERM: a checkpoint at the next step boundary, the run file kept under its working name
// with status "interrupted", exit 130/143.
// Data parallel (req.world.size > 1, trainer/data_parallel.hpp): every rank runs this loop on its rows
// of each global batch ([train] batch_size is the global batch), gradients summed once per step;
// ranks agree on stopping (signal, time budget) at each step boundary; only rank 0 writes files.
#include <cstdint>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/h5_store.hpp"
#include "layers/model.hpp"
#include "tasks/dataset.hpp"
#include "trainer/data_parallel.hpp"
#include "trainer/precision.hpp"

namespace rmaat::trainer {

struct TrainRequest {
    std::string config_text, config_source, config_dir;  // a fresh run (ignored on resume)
    std::string out;                                     // the run file
    bool force = false;                                  // replace an existing run file
    bool resume = false;                                 // continue from out + ".ckpt"
    bool progress = true;
    std::string calibration;      // used when [model] names none (the pipeline's calibration stage)
    std::string device;           // overrides [train] device when not empty (`rmaat train --device`)
    WorldInfo world;              // data-parallel ranks (trainer/data_parallel.hpp); size 1: one process
    double dist_timeout_s = 300;  // bound on every collective: a dead rank ends the others after this
};

struct EvalResult {
    int64_t n = 0, n_classes = 0;
    double accuracy = 0, loss = 0, majority = 0;         // majority: the largest class's share (a baseline)
    std::vector<int64_t> confusion;                      // [C x C], row = true class, column = predicted
    std::vector<int64_t> bucket_segments, bucket_count;  // per number of segments of the document
    std::vector<double> bucket_accuracy;
};

struct TrainResult {
    int64_t steps = 0;
    EvalResult test;  // n = 0 without a test split
    std::string run_file;
    double peak_device_memory_mb = -1;  // CUDA: max_memory_allocated of the training loop; -1 on the CPU
};

// Validates a training config (tables [train], [data], [model]) without reading data: for the pipeline's
// check before any stage runs. Marks the other stages' tables as theirs.
void check_train_config(const Config& cfg, const std::string& config_dir);
TrainResult train(const TrainRequest& req);

// Accuracy, loss, confusion and per-length accuracy of `model` on `data` (eval mode, no gradients).
// max_batches 0: all. With `dp`, each rank evaluates its rows of every batch and the counts are summed
// (every rank gets the whole result). `precision` as the training's forward passes.
EvalResult evaluate(layers::ModelImpl& model, const tasks::Dataset& data, int64_t batch_size, int64_t max_batches = 0,
                    DataParallel* dp = nullptr, Precision precision = Precision::fp32);
void write_eval(const h5::Group& root, const EvalResult& r, const std::string& split, const std::string& weights);
std::string format_eval(const EvalResult& r);

}  // namespace rmaat::trainer
