#include "trainer/data_parallel.hpp"

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>

#include <fmt/format.h>
#include <torch/version.h>

#include "core/error.hpp"

#ifdef RMAAT_HAVE_GLOO
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef RMAAT_HAVE_NCCL
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#endif

namespace rmaat::trainer {

namespace {

// An integer environment variable, or `fallback` when unset; InputError when malformed.
long env_int(const char* name, const char* alias, long fallback, long lo, long hi) {
    const char* used = name;
    const char* v = std::getenv(name);
    if (!v && alias) {
        used = alias;
        v = std::getenv(alias);
    }
    if (!v) return fallback;
    errno = 0;
    char* end = nullptr;
    const long x = std::strtol(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || x < lo || x > hi)
        throw InputError(fmt::format("environment: {}=\"{}\" is not an integer in [{}, {}]", used, v, lo, hi));
    return x;
}

}  // namespace

WorldInfo world_from_env() {
    WorldInfo w;
    w.size = static_cast<int>(env_int("WORLD_SIZE", "SLURM_NTASKS", 1, 1, 1 << 20));
    w.rank = static_cast<int>(env_int("RANK", "SLURM_PROCID", 0, 0, 1 << 20));
    if (w.rank >= w.size)
        throw InputError(fmt::format("environment: RANK {} is not below WORLD_SIZE {}", w.rank, w.size));
    w.local_rank = static_cast<int>(env_int("LOCAL_RANK", "SLURM_LOCALID", w.rank, 0, 1 << 20));
    if (const char* a = std::getenv("MASTER_ADDR")) {
        if (!*a) throw InputError("environment: MASTER_ADDR is empty");
        w.master_addr = a;
    }
    w.master_port = static_cast<int>(env_int("MASTER_PORT", nullptr, 29500, 1, 65535));
    if (const char* f = std::getenv("RMAAT_STORE_FILE")) w.store_file = f;
    return w;
}

#ifdef RMAAT_HAVE_GLOO

bool data_parallel_available() {
    return true;
}

namespace {
// c10d's collectives live on ProcessGroup in LibTorch 1.x and on its backends from 2.0.
#if TORCH_VERSION_MAJOR >= 2
using Group = ::c10d::Backend;
#else
using Group = ::c10d::ProcessGroup;
#endif

std::string place(const WorldInfo& w) {
    return fmt::format("data-parallel rank {} of {}", w.rank, w.size);
}

template <class F>
auto guarded(const WorldInfo& w, const char* what, F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const RunError&) {
        throw;
    } catch (const std::exception& e) {
        throw RunError(
            fmt::format("{}: {} failed: {} (a rank stopped or cannot be reached; resume the run "
                        "from its last checkpoint)",
                        place(w), what, e.what()));
    }
}
}  // namespace

struct DataParallel::Impl {
    c10::intrusive_ptr<::c10d::Store> store;
    c10::intrusive_ptr<Group> control;  // Gloo: flags, counts, barriers (CPU doubles)
    c10::intrusive_ptr<Group> tensors;  // the gradients' and weights' group: NCCL for CUDA, else control
};

DataParallel::DataParallel(const WorldInfo& world, double timeout_s, int64_t bucket_bytes)
    : world_(world), bucket_bytes_(bucket_bytes), impl_(std::make_unique<Impl>()) {
    timeout_ms_ = static_cast<int64_t>(timeout_s * 1000.0);
    const auto timeout = std::chrono::milliseconds(timeout_ms_);
    guarded(world_, "joining the process group", [&] {
        if (!world_.store_file.empty()) {
            impl_->store = c10::make_intrusive<::c10d::FileStore>(world_.store_file, world_.size);
            impl_->store->setTimeout(timeout);
        } else {
            ::c10d::TCPStoreOptions o;
            o.port = static_cast<std::uint16_t>(world_.master_port);
            o.isServer = world_.rank == 0;
            o.numWorkers = static_cast<std::size_t>(world_.size);
            o.waitWorkers = true;
            o.timeout = timeout;
            try {
                impl_->store = c10::make_intrusive<::c10d::TCPStore>(world_.master_addr, o);
            } catch (const std::exception& e) {
                throw RunError(
                    fmt::format("{}: the store at MASTER_ADDR={} MASTER_PORT={} cannot be reached within "
                                "{} s: {}",
                                place(world_), world_.master_addr, world_.master_port, timeout_s, e.what()));
            }
        }
        auto opts = ::c10d::ProcessGroupGloo::Options::create(timeout);
        if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"))
            opts->devices.push_back(::c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
        else if (world_.store_file.empty() && world_.master_addr != "127.0.0.1" && world_.master_addr != "localhost")
            opts->devices.push_back(::c10d::ProcessGroupGloo::createDefaultDevice());
        else  // one machine: the loopback, whatever the host name resolves to
            opts->devices.push_back(::c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
        opts->threads = 1;  // one collective at a time per rank (the exchange is in order anyway)
        impl_->control = c10::make_intrusive<::c10d::ProcessGroupGloo>(impl_->store, world_.rank, world_.size, opts);
        impl_->tensors = impl_->control;
        return 0;
    });
}

void DataParallel::attach_device(const torch::Device& device) {
    if (!device.is_cuda()) return;
#ifdef RMAAT_HAVE_NCCL
    buckets_.reset();  // they hold the group they send through
    guarded(world_, "joining the NCCL group", [&] {
        auto opts = ::c10d::ProcessGroupNCCL::Options::create();
        opts->timeout = std::chrono::milliseconds(timeout_ms_);
        auto store = c10::make_intrusive<::c10d::PrefixStore>("nccl/", impl_->store);
        impl_->tensors = c10::make_intrusive<::c10d::ProcessGroupNCCL>(store, world_.rank, world_.size, opts);
        return 0;
    });
#endif
}

DataParallel::~DataParallel() = default;

void DataParallel::broadcast(const std::vector<torch::Tensor>& tensors) {
    guarded(world_, "broadcast", [&] {
        for (const auto& t : tensors) {
            std::vector<at::Tensor> one{t.detach()};
            impl_->tensors->broadcast(one)->wait();
        }
        return 0;
    });
}

void DataParallel::allreduce(std::vector<double>& values, bool max) {
    if (values.empty()) return;
    guarded(world_, "allreduce", [&] {
        std::vector<at::Tensor> one{
            torch::from_blob(values.data(), {static_cast<int64_t>(values.size())}, torch::kDouble)};
        ::c10d::AllreduceOptions o;
        o.reduceOp = max ? ::c10d::ReduceOp::MAX : ::c10d::ReduceOp::SUM;
        impl_->control->allreduce(one, o)->wait();  // in place in `values`
        return 0;
    });
}

// The gradient buckets of one parameter list (the same on every rank): parameters in reverse order,
// the order in which a backward pass finishes them, cut at kBucketBytes and at a dtype or device
// change. With overlap armed, a hook after each parameter's gradient accumulation counts it final;
// a bucket whose members are all final goes out at once, but only after every bucket before it, so
// every rank issues the same collectives in the same order.
struct DataParallel::Buckets {
    std::vector<torch::Tensor> params;
    std::vector<std::vector<size_t>> members;
    std::vector<size_t> bucket_of;
    std::vector<size_t> fired;  // the order in which the first overlapped backward finished parameters
    bool reordered = false;     // members rebuilt in that order (rank 0's)
    std::vector<std::shared_ptr<torch::autograd::Node>> accumulators;  // kept: the hooks live on them
    std::vector<uintptr_t> hooks;
    // this step
    bool armed = false;
    double weight = 1;
    std::vector<char> final_param;
    std::vector<size_t> pending;  // members of each bucket not yet final
    std::vector<torch::Tensor> flat;
    std::vector<c10::intrusive_ptr<::c10d::Work>> work;
    size_t next = 0;  // the next bucket to launch
    bool started = false;
    int64_t overlapped = 0;  // launched from a hook, during the backward
    Group* group = nullptr;

    ~Buckets() {
        for (size_t k = 0; k < hooks.size(); ++k) accumulators[k]->del_post_hook(hooks[k]);
    }

    void launch_ready(bool all) {
        while (next < members.size() && (all || pending[next] == 0)) {
            std::vector<torch::Tensor> parts;
            for (const size_t i : members[next]) {
                const auto& p = params[i];
                parts.push_back(p.grad().defined() ? p.grad().reshape({-1}) * weight
                                                   : torch::zeros({p.numel()}, p.options()));
            }
            flat[next] = torch::cat(parts);
            std::vector<at::Tensor> one{flat[next]};
            work[next] = group->allreduce(one);
            ++next;
        }
    }
    void ready(size_t i) {
        if (!armed || final_param[i]) return;
        final_param[i] = 1;
        if (!reordered) fired.push_back(i);
        torch::NoGradGuard no_grad;
        if (--pending[bucket_of[i]] == 0) {
            const size_t before = next;
            launch_ready(false);
            overlapped += static_cast<int64_t>(next - before);
        }
    }
    void start(double w) {
        started = true;
        overlapped = 0;
        weight = w;
        next = 0;
        final_param.assign(params.size(), 0);
        pending.clear();
        for (const auto& m : members) pending.push_back(m.size());
        flat.assign(members.size(), torch::Tensor());
        work.assign(members.size(), {});
    }
};

namespace {
struct FinalGradientHook : torch::autograd::FunctionPostHook {
    DataParallel::Buckets* buckets;
    size_t index;
    FinalGradientHook(DataParallel::Buckets* b, size_t i) : buckets(b), index(i) {}
    torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs,
                                              const torch::autograd::variable_list&) override {
        buckets->ready(index);
        return outputs;
    }
};
}  // namespace

// Cuts `order` (parameter indices) into buckets of at most bucket_bytes, and at a dtype or device change.
void cut_buckets(DataParallel::Buckets& b, const std::vector<size_t>& order, int64_t bucket_bytes) {
    b.members.clear();
    b.bucket_of.assign(b.params.size(), 0);
    int64_t bytes = 0;
    for (const size_t k : order) {
        const auto& p = b.params[k];
        const auto& first = b.members.empty() ? p : b.params[b.members.back()[0]];
        const bool same_kind = first.scalar_type() == p.scalar_type() && first.device() == p.device();
        if (b.members.empty() || !same_kind || (bytes > 0 && bytes + p.numel() * p.element_size() > bucket_bytes)) {
            b.members.emplace_back();
            bytes = 0;
        }
        b.members.back().push_back(k);
        b.bucket_of[k] = b.members.size() - 1;
        bytes += p.numel() * p.element_size();
    }
}

DataParallel::Buckets& DataParallel::buckets_for(const std::vector<torch::Tensor>& params) {
    if (buckets_ && buckets_->params.size() == params.size() &&
        std::equal(params.begin(), params.end(), buckets_->params.begin(),
                   [](const torch::Tensor& a, const torch::Tensor& b) { return a.is_same(b); }))
        return *buckets_;
    buckets_.reset();
    auto b = std::make_unique<Buckets>();
    b->params = params;
    b->group = impl_->tensors.get();
    std::vector<size_t> order;  // reverse: roughly the order a backward finishes them
    for (size_t k = params.size(); k-- > 0;) order.push_back(k);
    cut_buckets(*b, order, bucket_bytes_);
    buckets_ = std::move(b);
    return *buckets_;
}

// After the first overlapped step: the buckets again, in the order rank 0's backward finished the
// parameters (those it never finished last), so that a parameter without a gradient no longer holds
// back the buckets after it. Every rank takes rank 0's order (a rank without rows saw none).
void DataParallel::reorder_buckets(Buckets& b) {
    std::vector<double> order(b.params.size(), 0.0);
    if (world_.rank == 0) {
        std::vector<char> seen(b.params.size(), 0);
        size_t at = 0;
        for (const size_t i : b.fired) {
            order[at++] = static_cast<double>(i) + 1;
            seen[i] = 1;
        }
        for (size_t k = b.params.size(); k-- > 0;)
            if (!seen[k]) order[at++] = static_cast<double>(k) + 1;
    }
    allreduce(order);  // rank 0's, 1-based, everywhere
    std::vector<size_t> idx;
    for (const double x : order) idx.push_back(static_cast<size_t>(x) - 1);
    cut_buckets(b, idx, bucket_bytes_);
    b.reordered = true;
    b.fired.clear();
}

void DataParallel::begin_backward(const std::vector<torch::Tensor>& params, double weight, bool overlap) {
    Buckets& b = buckets_for(params);
    b.start(weight);
    b.armed = overlap;
    if (overlap && b.hooks.empty()) {  // once per parameter list: the accumulators outlive every graph
        for (size_t i = 0; i < params.size(); ++i) {
            if (!params[i].requires_grad()) continue;
            auto acc = torch::autograd::impl::grad_accumulator(params[i]);
            if (!acc) continue;
            b.hooks.push_back(acc->add_post_hook(std::make_unique<FinalGradientHook>(&b, i)));
            b.accumulators.push_back(std::move(acc));
        }
    }
}

void DataParallel::reduce_gradients(const std::vector<torch::Tensor>& params, double weight,
                                    std::vector<double>& extra) {
    torch::NoGradGuard no_grad;
    Buckets& b = buckets_for(params);
    if (!b.started) b.start(weight);  // no begin_backward: nothing launched yet
    const bool overlapped_step = b.armed;
    TORCH_CHECK(b.weight == weight, "reduce_gradients: weight ", weight, " after begin_backward(", b.weight, ")");
    b.armed = false;
    // Whether each parameter has a gradient anywhere travels with `extra` (one exchange for both).
    std::vector<double> small = extra;
    for (const auto& p : params) small.push_back(p.grad().defined() ? 1.0 : 0.0);
    guarded(world_, "gradient allreduce", [&] {
        b.launch_ready(true);  // what the backward did not finish (all of it without overlap), in order
        std::vector<at::Tensor> one{
            torch::from_blob(small.data(), {static_cast<int64_t>(small.size())}, torch::kDouble)};
        impl_->control->allreduce(one)->wait();  // in place in `small`, while the buckets travel
        for (size_t k = 0; k < b.members.size(); ++k) {
            b.work[k]->wait();
            int64_t at = 0;
            for (const size_t i : b.members[k]) {
                const auto& p = params[i];
                const bool any = small[extra.size() + i] > 0.0;
                auto part = b.flat[k].narrow(0, at, p.numel()).view(p.sizes());
                at += p.numel();
                if (!any) continue;
                if (p.grad().defined())
                    p.mutable_grad().copy_(part);
                else
                    p.mutable_grad() = part.clone();
            }
        }
        return 0;
    });
    b.flat.clear();
    b.work.clear();
    b.started = false;
    if (overlapped_step && !b.reordered) reorder_buckets(b);
    std::copy(small.begin(), small.begin() + static_cast<std::ptrdiff_t>(extra.size()), extra.begin());
}

int64_t DataParallel::buckets_overlapped() const {
    return buckets_ ? buckets_->overlapped : 0;
}
int64_t DataParallel::buckets() const {
    return buckets_ ? static_cast<int64_t>(buckets_->members.size()) : 0;
}

void DataParallel::barrier() {
    guarded(world_, "barrier", [&] {
        // A one-element allreduce: Gloo's barrier() on 1.13 has no per-call timeout of its own.
        std::vector<at::Tensor> one{torch::zeros({1}, torch::kDouble)};
        impl_->control->allreduce(one)->wait();
        return 0;
    });
}

std::vector<std::string> DataParallel::share_from_rank0(const std::vector<std::string>& values) {
    const std::string key = fmt::format("rmaat/from_rank0/{}", shared_++);
    return guarded(world_, "sharing rank 0's file names", [&] {
        if (world_.rank == 0) {
            std::vector<uint8_t> bytes;
            for (const auto& v : values) {
                bytes.insert(bytes.end(), v.begin(), v.end());
                bytes.push_back(0);
            }
            impl_->store->set(key, bytes);
            return values;
        }
        const std::vector<uint8_t> bytes = impl_->store->get(key);
        std::vector<std::string> out;
        std::string cur;
        for (const uint8_t b : bytes) {
            if (b == 0) {
                out.push_back(cur);
                cur.clear();
            } else {
                cur.push_back(static_cast<char>(b));
            }
        }
        return out;
    });
}

#endif

std::pair<int64_t, int64_t> DataParallel::shard(int64_t B) const {
    return {B * world_.rank / world_.size, B * (world_.rank + 1) / world_.size};
}

#ifndef RMAAT_HAVE_GLOO  // no c10d Gloo in this LibTorch

bool data_parallel_available() {
    return false;
}

struct DataParallel::Impl {};
struct DataParallel::Buckets {};

DataParallel::DataParallel(const WorldInfo& world, double, int64_t) : world_(world) {
    throw InputError(
        fmt::format("WORLD_SIZE {}: this build of rmaat has no torch.distributed (c10d with Gloo); "
                    "rebuild against a LibTorch with it (Debian's libtorch-dev and libgloo-dev)",
                    world.size));
}
DataParallel::~DataParallel() = default;
void DataParallel::attach_device(const torch::Device&) {}
void DataParallel::begin_backward(const std::vector<torch::Tensor>&, double, bool) {}
void DataParallel::broadcast(const std::vector<torch::Tensor>&) {}
void DataParallel::allreduce(std::vector<double>&, bool) {}
void DataParallel::reduce_gradients(const std::vector<torch::Tensor>&, double, std::vector<double>&) {}
void DataParallel::barrier() {}
int64_t DataParallel::buckets_overlapped() const {
    return 0;
}
int64_t DataParallel::buckets() const {
    return 0;
}
std::vector<std::string> DataParallel::share_from_rank0(const std::vector<std::string>& values) {
    return values;
}

#endif

}  // namespace rmaat::trainer
