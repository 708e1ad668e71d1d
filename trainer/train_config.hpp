#pragma once
// The [train] and [data] tables of a training config (docs/design.md section 7.2), read strictly
// (core/config.hpp: every key with its default and range, ConfigError "file:line: key: reason").
//
//   [train]
//   steps = 5000            optimiser steps
//   batch_size = 32
//   lr = 0.05               base rate; with "rsqrt" the peak is lr / sqrt(warmup) (LRA)
//   warmup = 1000           steps of linear warm-up
//   schedule = "rsqrt"      rsqrt | cosine | constant (trainer/optim.hpp)
//   weight_decay = 0.1      AdamW's decoupled decay (1 per step, times lr_t)
//   clip = 1.0              global gradient norm (0 = no clipping)
//   eval_every = 100        steps between validation passes (0 = only at the end)
//   eval_batches = 0        validation batches per pass (0 = the whole split)
//   checkpoint_every = 0    steps between checkpoints (0 = at every evaluation)
//   seed = 1                initialisation, shuffling, dropout keys
//   backprop = "bptt"       bptt | amrb (trainer/backprop.hpp)
//   threads = 0             torch intra-op threads (0 = the machine's default, stored so a resume uses the same)
//   time_budget_s = 0       stop after this much wall time (0 = none)
//   device = "cpu"          cpu | cuda | cuda:N: where the model and batches live (the CUDA kernels of
//                           kernels/cuda/ serve CUDA tensors in a build with a CUDA LibTorch)
//   precision = "fp32"      fp32 | bf16: bf16 autocast for the forward passes (trainer/precision.hpp)
//
//   [data]
//   task = "listops-mini"   a row of the task registry (tasks/registry.hpp)
//   train = "..."  val = "..."  test = "..."   paths (relative to the config's directory); val, test optional
//   generate = false        true: generate the splits (tasks with a generator) next to the run file,
//   n_train = -1  n_val = -1  n_test = -1  seed = 1  variant = ""   (-1: the task's defaults)
//
// The model's vocab_size and n_classes come from the data; [model] may state them only when they
// agree. max_len defaults to the longest document of the splits; a stated one must cover them.
#include <cstdint>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "layers/model_config.hpp"
#include "tasks/dataset.hpp"
#include "trainer/backprop.hpp"
#include "trainer/optim.hpp"
#include "trainer/precision.hpp"

namespace rmaat::trainer {

struct TrainConfig {
    int64_t steps = 5000, batch_size = 32;
    double lr = 0.05;
    int64_t warmup = 1000;
    Schedule schedule = Schedule::rsqrt;
    double weight_decay = 0.1, clip = 1.0;
    int64_t eval_every = 100, eval_batches = 0, checkpoint_every = 0;
    uint64_t seed = 1;
    Backprop backprop = Backprop::bptt;
    int64_t threads = 0;
    double time_budget_s = 0.0;
    std::string device = "cpu";
    Precision precision = Precision::fp32;
};

// cpu, cuda or cuda:N: the names [train] device and `rmaat train --device` accept.
bool is_device_name(const std::string& name);

struct DataConfig {
    std::string task;
    std::string train, val, test;  // resolved paths ("" = none)
    bool generate = false;
    int64_t n_train = -1, n_val = -1, n_test = -1;
    uint64_t seed = 1;
    std::string variant;
};

// The three tables, read and checked (the data itself is not read yet).
struct RunConfig {
    TrainConfig train;
    DataConfig data;
    layers::ModelConfig model;
};
RunConfig read_run_config(const Config& cfg, const std::string& config_dir);
// Whether a config asks for training (has a [train] table).
bool has_train(const Config& cfg);

struct RunData {
    tasks::Dataset train, val, test;  // val/test empty (no examples) when not given
};
// Reads the splits, or generates them into `<run_path>.data/` first (deterministic: a resume gets
// the same data). `generated`: the files generate_run_data() wrote (another process, e.g. data-parallel
// rank 0), read instead of generating again.
RunData load_run_data(const DataConfig& d, const std::string& run_path, bool progress,
                      const std::vector<std::string>* generated = nullptr);
// Generates the splits of a `generate = true` config into `<run_path>.data/`; their paths, in split order.
std::vector<std::string> generate_run_data(const DataConfig& d, const std::string& run_path, bool progress);
// Fills vocab_size, n_classes and (when not stated) max_len from the data; ConfigError naming
// [model]'s key when a stated value disagrees with the data.
void fit_model_to_data(const Config& cfg, layers::ModelConfig& model, const RunData& data);

}  // namespace rmaat::trainer
