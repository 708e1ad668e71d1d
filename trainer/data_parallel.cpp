#include "trainer/data_parallel.hpp"

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>

#include <fmt/format.h>
#include <torch/version.h>

#include "core/error.hpp"

#ifdef RMAAT_HAVE_GLOO
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

DataParallel::DataParallel(const WorldInfo& world, double timeout_s) : world_(world), impl_(std::make_unique<Impl>()) {
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
        opts->threads = 2;
        impl_->control = c10::make_intrusive<::c10d::ProcessGroupGloo>(impl_->store, world_.rank, world_.size, opts);
        impl_->tensors = impl_->control;
        return 0;
    });
}

void DataParallel::attach_device(const torch::Device& device) {
    if (!device.is_cuda()) return;
#ifdef RMAAT_HAVE_NCCL
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

void DataParallel::reduce_gradients(const std::vector<torch::Tensor>& params, double weight,
                                    std::vector<double>& extra) {
    torch::NoGradGuard no_grad;
    // Whether each parameter has a gradient anywhere travels with `extra` (one exchange for both).
    std::vector<double> small = extra;
    for (const auto& p : params) small.push_back(p.grad().defined() ? 1.0 : 0.0);
    struct Bucket {
        std::vector<size_t> members;
        torch::Tensor flat;
        c10::intrusive_ptr<::c10d::Work> work;
    };
    std::vector<Bucket> buckets;
    auto launch = [&](Bucket& b) {
        std::vector<torch::Tensor> parts;
        for (const size_t i : b.members) {
            const auto& p = params[i];
            parts.push_back(p.grad().defined() ? p.grad().reshape({-1}) * weight
                                               : torch::zeros({p.numel()}, p.options()));
        }
        b.flat = torch::cat(parts);
        std::vector<at::Tensor> one{b.flat};
        b.work = impl_->tensors->allreduce(one);
    };
    guarded(world_, "gradient allreduce", [&] {
        Bucket cur;
        int64_t bytes = 0;
        for (size_t i = 0; i < params.size(); ++i) {
            const auto& p = params[i];
            const bool same_kind = cur.members.empty() || (params[cur.members[0]].scalar_type() == p.scalar_type() &&
                                                           params[cur.members[0]].device() == p.device());
            if (!same_kind || (bytes > 0 && bytes + p.numel() * p.element_size() > kBucketBytes)) {
                launch(cur);
                buckets.push_back(std::move(cur));
                cur = Bucket{};
                bytes = 0;
            }
            cur.members.push_back(i);
            bytes += p.numel() * p.element_size();
        }
        if (!cur.members.empty()) {
            launch(cur);
            buckets.push_back(std::move(cur));
        }
        std::vector<at::Tensor> one{
            torch::from_blob(small.data(), {static_cast<int64_t>(small.size())}, torch::kDouble)};
        impl_->control->allreduce(one)->wait();  // in place in `small`, while the buckets travel
        for (auto& b : buckets) {
            b.work->wait();
            int64_t at = 0;
            for (const size_t i : b.members) {
                const auto& p = params[i];
                const bool any = small[extra.size() + i] > 0.0;
                auto part = b.flat.narrow(0, at, p.numel()).view(p.sizes());
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
    std::copy(small.begin(), small.begin() + static_cast<std::ptrdiff_t>(extra.size()), extra.begin());
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
    const std::string key = fmt::format("rmaat/shared/{}", shared_++);
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

DataParallel::DataParallel(const WorldInfo& world, double) : world_(world) {
    throw InputError(
        fmt::format("WORLD_SIZE {}: this build of rmaat has no torch.distributed (c10d with Gloo); "
                    "rebuild against a LibTorch with it (Debian's libtorch-dev and libgloo-dev)",
                    world.size));
}
DataParallel::~DataParallel() = default;
void DataParallel::attach_device(const torch::Device&) {}
void DataParallel::broadcast(const std::vector<torch::Tensor>&) {}
void DataParallel::allreduce(std::vector<double>&, bool) {}
void DataParallel::reduce_gradients(const std::vector<torch::Tensor>&, double, std::vector<double>&) {}
void DataParallel::barrier() {}
std::vector<std::string> DataParallel::share_from_rank0(const std::vector<std::string>& values) {
    return values;
}

#endif

}  // namespace rmaat::trainer
