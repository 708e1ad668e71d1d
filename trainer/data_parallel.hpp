#pragma once
// Data-parallel training on torch.distributed's engine, c10d (docs/design.md section 6.5).
//
// One process per device. Each optimiser step, every rank takes its rows of the same global batch
// (rank r of W: rows [r B / W, (r + 1) B / W)), back-propagates them with BPTT or AMRB as a single
// process would, and the gradients are summed across ranks once per step (AMRB's replay runs its
// segments without any communication):
//
//   g = sum_r (B_r / B) g_r          g_r: rank r's mean-loss gradient over its B_r rows
//
// which is the gradient of the mean loss over the global batch, so W ranks follow a single process
// on the same global batch to float rounding. The sum travels in buckets of at most kBucketBytes,
// each all-reduced asynchronously: under BPTT (one backward call) a bucket goes out during the
// backward as soon as its gradients are final, under AMRB after the last replay. A parameter with no
// gradient on every rank keeps none (AdamW skips it, as it would in one process).
//
// The process group comes from the standard environment (torchrun, Slurm's srun, a Kubernetes job):
//   RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT   (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID
//   stand in for the first three), or RMAAT_STORE_FILE: a FileStore on a shared file (`--nproc`).
// Gloo on CPU tensors, NCCL on CUDA ones when this LibTorch has it. Every collective has a timeout:
// a rank that dies or a store that cannot be reached ends the others with a RunError, never a hang.
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace rmaat::trainer {

struct WorldInfo {
    int rank = 0, size = 1, local_rank = 0;
    std::string master_addr = "127.0.0.1";
    int master_port = 29500;
    std::string store_file;  // RMAAT_STORE_FILE: rendezvous through this file instead of TCP
    bool distributed() const { return size > 1; }
};

// The environment's world; InputError naming the variable when one is malformed or inconsistent
// (RANK >= WORLD_SIZE, a port out of range). Without WORLD_SIZE (or with 1): a single process.
WorldInfo world_from_env();

// Whether this build can train with more than one process (LibTorch with c10d's Gloo).
bool data_parallel_available();

class DataParallel {
public:
    static constexpr int64_t kBucketBytes = 25 << 20;

    // Joins the process group (every rank must call it; Gloo); RunError when the store or a peer cannot
    // be reached within timeout_s, the bound on every later collective too.
    DataParallel(const WorldInfo& world, double timeout_s, int64_t bucket_bytes = kBucketBytes);
    // Where the weights and gradients live: CUDA tensors get an NCCL group when this LibTorch has one
    // (else Gloo stages them through the host).
    void attach_device(const torch::Device& device);
    ~DataParallel();
    DataParallel(const DataParallel&) = delete;
    DataParallel& operator=(const DataParallel&) = delete;

    int rank() const { return world_.rank; }
    int size() const { return world_.size; }

    // This rank's rows [begin, end) of a global batch of B rows.
    std::pair<int64_t, int64_t> shard(int64_t B) const;

    // Rank 0's values into every rank's tensors, in place (the initial weights and optimiser state).
    void broadcast(const std::vector<torch::Tensor>& tensors);
    // Element-wise sum (or max) over ranks, in place: counts, flags, small vectors of double.
    void allreduce(std::vector<double>& values, bool max = false);
    // Before the step's backward. overlap: the backward is one call (BPTT), so a parameter's gradient is
    // final when its accumulation runs, and each bucket goes out as soon as its gradients are (AMRB's
    // replay accumulates over several calls: no overlap, everything goes in reduce_gradients).
    void begin_backward(const std::vector<torch::Tensor>& params, double weight, bool overlap);
    // After the step's backward: every parameter's .grad becomes sum_r weight_r grad_r, where this
    // rank's weight is `weight` (B_r / B). `extra` is summed in the same exchange (loss, counts).
    void reduce_gradients(const std::vector<torch::Tensor>& params, double weight, std::vector<double>& extra);
    // Buckets of the last step that went out during the backward (overlapped), and all of them.
    int64_t buckets_overlapped() const;
    int64_t buckets() const;
    void barrier();
    // Rank 0's strings on every rank (through the store; others wait up to the timeout): file names.
    std::vector<std::string> share_from_rank0(const std::vector<std::string>& values);

    struct Buckets;  // the gradient buckets and their hooks (data_parallel.cpp)

private:
    struct Impl;
    Buckets& buckets_for(const std::vector<torch::Tensor>& params);
    void reorder_buckets(Buckets& b);
    WorldInfo world_;
    int64_t timeout_ms_ = 0, bucket_bytes_ = kBucketBytes;
    int64_t shared_ = 0;  // share_from_rank0 calls so far (each its own store key)
    std::unique_ptr<Impl> impl_;
    std::unique_ptr<Buckets> buckets_;  // destroyed first: its hooks point into it
};

}  // namespace rmaat::trainer
