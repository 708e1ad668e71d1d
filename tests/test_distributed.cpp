// Data-parallel training on c10d's Gloo (docs/design.md section 6.5): the world from the environment,
// a rank's share of a batch, two CPU ranks against one process on the same global batch (BPTT and
// AMRB), resume at world size 1 from a 2-rank checkpoint, and failures that end every rank with an
// error instead of a hang (a killed rank, a store nobody serves).
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <torch/torch.h>

#include "core/error.hpp"
#include "core/h5_store.hpp"
#include "tasks/batch.hpp"
#include "tests/catch.hpp"
#include "tests/cli_run.hpp"
#include "tests/train_run.hpp"
#include "trainer/data_parallel.hpp"

using namespace rmaat;
using rmaat::testing::clean_run;
using rmaat::testing::exists;
using rmaat::testing::params_of;
using rmaat::testing::Result;
using rmaat::testing::run;
using rmaat::testing::shell;
using rmaat::testing::start;

namespace {

const std::string dir = std::string(RMAAT_BINARY_DIR) + "/distributed_test";
using Clock = std::chrono::steady_clock;

std::string write_file(const std::string& name, const std::string& text) {
    return rmaat::testing::write_in(dir, name, text);
}

// A tiny RMAAT on generated ListOps-mini (the trainer tests' model), dropout off, one thread per rank.
std::string tiny_config(int steps, int checkpoint_every, const std::string& extra = "",
                        const std::string& kind = "rmaat") {
    return "[model]\nkind = \"" + kind +
           "\"\nd_model = 16\nn_heads = 2\nn_layers = 1\nd_ff = 32\ndropout = 0.0\n"
           "segment_length = 32\nmemory_tokens = 4\n\n[train]\nsteps = " +
           std::to_string(steps) +
           "\nbatch_size = 16\nlr = 0.003\nwarmup = 5\nschedule = \"cosine\"\neval_every = 6\neval_batches = 2\n"
           "checkpoint_every = " +
           std::to_string(checkpoint_every) + "\nthreads = 1\nseed = 3\n" + extra +
           "\n[data]\ntask = \"listops-mini\"\ngenerate = true\nn_train = 200\nn_val = 40\nn_test = 40\nseed = 5\n";
}

// The largest |a - b| over all parameters (but those named in `noise_only`), and the largest |a|.
std::pair<double, double> params_distance(const std::string& a_path, const std::string& b_path,
                                          const std::string& noise_only = "") {
    const auto a = params_of(a_path), b = params_of(b_path);
    REQUIRE(a.size() == b.size());
    double diff = 0, scale = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        REQUIRE(a[i].first == b[i].first);
        REQUIRE(a[i].second.size() == b[i].second.size());
        const bool skip = !noise_only.empty() && a[i].first.find(noise_only) != std::string::npos;
        for (size_t k = 0; k < a[i].second.size(); ++k) {
            if (!skip) diff = std::max(diff, std::abs(a[i].second[k] - b[i].second[k]));
            scale = std::max(scale, std::abs(a[i].second[k]));
        }
    }
    return {diff, scale};
}

std::vector<double> column(const std::string& path, const std::string& dataset) {
    const h5::File f = h5::File::open_read(path);
    return f.root().read(dataset).data;
}

// The environment of rank `rank` of a 2-rank job started by hand, as torchrun or Slurm would, plus the
// rendezvous variables.
std::vector<std::string> rank_of_two(int rank, std::vector<std::string> rendezvous) {
    rendezvous.insert(rendezvous.end(),
                      {"RANK=" + std::to_string(rank), "WORLD_SIZE=2", "LOCAL_RANK=" + std::to_string(rank)});
    return rendezvous;
}

std::string slurp(const std::string& path) {
    std::ifstream f(path);
    return {std::istreambuf_iterator<char>(f), {}};
}

// A TCP port nobody listens on (bound, then released).
int free_port() {
    const int s = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    REQUIRE(bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t n = sizeof a;
    getsockname(s, reinterpret_cast<sockaddr*>(&a), &n);
    close(s);
    return ntohs(a.sin_port);
}

// Scoped environment variables for the in-process reader.
struct Env {
    std::vector<std::string> names;
    void set(const std::string& k, const std::string& v) {
        setenv(k.c_str(), v.c_str(), 1);
        names.push_back(k);
    }
    ~Env() {
        for (const auto& k : names) unsetenv(k.c_str());
    }
};

}  // namespace

TEST_CASE("the world comes from the standard environment, and a malformed one is refused by name", "[distributed]") {
    for (const char* k : {"RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "RMAAT_STORE_FILE",
                          "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"})
        unsetenv(k);
    {
        const trainer::WorldInfo w = trainer::world_from_env();
        CHECK(w.size == 1);
        CHECK(w.rank == 0);
        CHECK(!w.distributed());
    }
    {
        Env e;  // torchrun's variables
        e.set("RANK", "3");
        e.set("WORLD_SIZE", "4");
        e.set("LOCAL_RANK", "1");
        e.set("MASTER_ADDR", "node7");
        e.set("MASTER_PORT", "29411");
        const trainer::WorldInfo w = trainer::world_from_env();
        CHECK(w.rank == 3);
        CHECK(w.size == 4);
        CHECK(w.local_rank == 1);
        CHECK(w.master_addr == "node7");
        CHECK(w.master_port == 29411);
    }
    {
        Env e;  // Slurm's, where torchrun's are absent
        e.set("SLURM_PROCID", "5");
        e.set("SLURM_NTASKS", "8");
        e.set("SLURM_LOCALID", "1");
        const trainer::WorldInfo w = trainer::world_from_env();
        CHECK(w.rank == 5);
        CHECK(w.size == 8);
        CHECK(w.local_rank == 1);
    }
    struct Bad {
        std::vector<std::pair<std::string, std::string>> env;
        std::string message;
    };
    const std::vector<Bad> bad{
        {{{"WORLD_SIZE", "two"}}, "WORLD_SIZE=\"two\" is not an integer"},
        {{{"WORLD_SIZE", "2"}, {"RANK", "2"}}, "RANK 2 is not below WORLD_SIZE 2"},
        {{{"WORLD_SIZE", "2"}, {"RANK", "-1"}}, "RANK=\"-1\""},
        {{{"WORLD_SIZE", "2"}, {"MASTER_PORT", "70000"}}, "MASTER_PORT=\"70000\""},
        {{{"WORLD_SIZE", "2"}, {"MASTER_ADDR", ""}}, "MASTER_ADDR is empty"},
    };
    for (const auto& b : bad) {
        Env e;
        for (const auto& [k, v] : b.env) e.set(k, v);
        INFO(b.message);
        CHECK_THROWS_WITH(trainer::world_from_env(), ContainsSubstring(b.message));
    }
}

TEST_CASE("a rank's rows of a batch keep the global batch's padding", "[distributed]") {
    tasks::Batch b;
    b.B = 3;
    b.L = 4;
    b.tokens = {1, 2, 0, 0, 3, 4, 5, 0, 6, 7, 8, 9};
    b.mask = {1, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1};
    b.labels = {0, 1, 2};
    b.lengths = {2, 3, 4};
    b.lengths2 = {0, 0, 0};
    b.index = {10, 11, 12};
    tasks::Batch s;
    tasks::slice_batch(b, 1, 3, s);
    CHECK(s.B == 2);
    CHECK(s.L == 4);  // not re-padded to its own longest row
    CHECK(s.tokens == std::vector<int32_t>{3, 4, 5, 0, 6, 7, 8, 9});
    CHECK(s.mask == std::vector<uint8_t>{1, 1, 1, 0, 1, 1, 1, 1});
    CHECK(s.labels == std::vector<int64_t>{1, 2});
    CHECK(s.lengths == std::vector<int64_t>{3, 4});
    CHECK(s.index == std::vector<int64_t>{11, 12});
    tasks::slice_batch(b, 3, 3, s);  // a rank with no rows of a short last batch
    CHECK(s.B == 0);
    CHECK(s.tokens.empty());
    CHECK_THROWS_WITH(tasks::slice_batch(b, 2, 4, s), ContainsSubstring("batch slice [2, 4) of a batch of 3 rows"));
}

TEST_CASE("gradient buckets go out during a one-call backward, in order, and come back weighted", "[distributed]") {
    REQUIRE(trainer::data_parallel_available());
    mkdir(dir.c_str(), 0755);
    trainer::WorldInfo w;  // a group of one: the collectives run, and the sum is this rank's own
    w.store_file = dir + "/buckets.store";
    std::remove(w.store_file.c_str());
    trainer::DataParallel dp(w, 30, /*bucket_bytes=*/4000);  // 1000 floats: one parameter per bucket
    std::vector<torch::Tensor> params;
    for (int i = 0; i < 5; ++i) params.push_back(torch::randn({1000}).requires_grad_(true));
    params.push_back(torch::randn({10}).requires_grad_(true));  // never used: no gradient anywhere
    const auto x = torch::randn({1000});
    // The first overlapped step learns the order the backward finishes parameters in (the unused one,
    // last in the list and so first in reverse order, holds every bucket back); then they overlap.
    const std::vector<std::pair<bool, int64_t>> steps{{true, 0}, {true, 5}, {false, 0}, {true, 5}};
    for (const auto& [overlap, overlapped] : steps) {
        INFO("overlap " << overlap);
        for (auto& p : params) p.mutable_grad() = torch::Tensor();
        dp.begin_backward(params, 0.5, overlap);
        auto h = x;
        for (int i = 0; i < 5; ++i) h = torch::tanh(h * params[static_cast<size_t>(i)]);
        h.sum().backward();
        std::vector<torch::Tensor> want;
        for (int i = 0; i < 5; ++i) want.push_back(params[static_cast<size_t>(i)].grad().clone());
        std::vector<double> extra{1.5};
        dp.reduce_gradients(params, 0.5, extra);
        CHECK(dp.buckets() == 6);
        // every used parameter's bucket went out from its hook; the unused one's at the end
        CHECK(dp.buckets_overlapped() == overlapped);
        for (int i = 0; i < 5; ++i) CHECK(torch::allclose(params[static_cast<size_t>(i)].grad(), 0.5 * want[i]));
        CHECK(!params[5].grad().defined());
        CHECK(extra[0] == 1.5);
    }
    std::remove(w.store_file.c_str());
}

TEST_CASE("two Gloo ranks train like one process on the same global batch (every model kind, BPTT and AMRB)",
          "[distributed][cli]") {
    REQUIRE(trainer::data_parallel_available());
    const std::vector<std::pair<std::string, std::string>> variants{
        {"rmaat", "bptt"}, {"rmaat", "amrb"},       {"rmt", "bptt"}, {"rmt", "amrb"},
        {"rlt", "amrb"},   {"transformer", "bptt"}, {"at", "bptt"},  {"linear", "bptt"}};
    for (const auto& [kind, method] : variants) {
        INFO(kind << " " << method);
        const std::string name = kind + "_" + method;
        const std::string cfg =
            write_file("dp_" + name + ".toml", tiny_config(12, 6, "backprop = \"" + method + "\"", kind));
        const std::string one = dir + "/dp_one_" + name + ".h5", two = dir + "/dp_two_" + name + ".h5";
        clean_run(one);
        clean_run(two);
        const Result r1 = run("train " + cfg + " -o " + one + " --no-progress");
        INFO(r1.output);
        REQUIRE(r1.code == 0);
        const Result r2 = run("train " + cfg + " -o " + two + " --nproc 2 --no-progress");
        INFO(r2.output);
        REQUIRE(r2.code == 0);
        CHECK(!exists(two + ".ckpt"));

        // Both ranks ended with the same weights, bit for bit (each rank's hash, stored by rank 0).
        const auto hashes = column(two, "train/rank_weight_hash");
        REQUIRE(hashes.size() == 2);
        CHECK(hashes[0] == hashes[1]);
        {
            const h5::File f = h5::File::open_read(two);
            CHECK(f.root().attr_int("world_size") == 2);
        }
        // Every step's loss and gradient norm are the global batch's (the same rows, split 8 + 8) to
        // float rounding (measured: 1e-7 relative): a missing B_r / B weight would double the norm.
        for (const char* metric : {"loss", "grad_norm"}) {
            const auto x = column(one, std::string("train/metrics/") + metric),
                       y = column(two, std::string("train/metrics/") + metric);
            REQUIRE(x.size() == 12);
            REQUIRE(y.size() == 12);
            for (size_t k = 0; k < x.size(); ++k) {
                INFO(metric << " at step " << k + 1);
                CHECK(y[k] == Approx(x[k]).epsilon(1e-5));
            }
        }
        // After 12 AdamW steps the weights agree with the single process to float rounding (measured:
        // 1.2e-7). Not softmax's key bias: its gradient is zero in exact arithmetic (a constant added to
        // a row of scores), so it holds only rounding noise, which AdamW turns into lr-sized steps.
        const bool softmax = kind == "rmt" || kind == "transformer";
        const auto [diff, scale] = params_distance(one, two, softmax ? "attention.key.bias" : "");
        INFO("max |one - two| = " << diff << " of weights up to " << scale);
        CHECK(diff < 1e-5);
        CHECK(scale > 0.1);
        // Evaluation gathers the counts of both ranks' rows: every test example once.
        CHECK(column(two, "eval/n")[0] == 40);
        CHECK(column(two, "eval/accuracy")[0] == Approx(column(one, "eval/accuracy")[0]).margin(0.051));
        clean_run(one);
        clean_run(two);
    }
}

TEST_CASE("four ranks on a global batch of 3 (one rank without rows) follow one process, the splits generated once",
          "[distributed][cli]") {
    std::string text = tiny_config(6, 6);
    text.replace(text.find("batch_size = 16"), 15, "batch_size = 3");
    text.replace(text.find("threads = 1"), 11, "threads = 0");  // the launcher gives each rank its share
    const std::string cfg = write_file("dp_four.toml", text);
    const std::string one = dir + "/dp_four_1.h5", four = dir + "/dp_four_4.h5";
    clean_run(one);
    clean_run(four);
    REQUIRE(run("train " + cfg + " -o " + one + " --no-progress").code == 0);
    const Result r = shell("env -u OMP_NUM_THREADS " + std::string(RMAAT_CLI) + " train " + cfg + " -o " + four +
                           " --nproc 4 --no-progress");
    INFO(r.output);
    REQUIRE(r.code == 0);
    CHECK(r.output.find("generated listops-mini data") != std::string::npos);
    const int64_t share = std::max<int64_t>(1, static_cast<int64_t>(std::thread::hardware_concurrency()) / 4);
    CHECK_THAT(r.output, ContainsSubstring("each rank's default thread count: " + std::to_string(share)));
    {
        const h5::File f = h5::File::open_read(four);
        CHECK(f.root().open_group("train/state").attr_int("threads") == share);
    }
    for (const char* metric : {"loss", "grad_norm", "accuracy"}) {
        const auto x = column(one, std::string("train/metrics/") + metric),
                   y = column(four, std::string("train/metrics/") + metric);
        REQUIRE(x.size() == y.size());
        for (size_t k = 0; k < x.size(); ++k) {
            INFO(metric << " at step " << k + 1);
            CHECK(y[k] == Approx(x[k]).epsilon(1e-5).margin(1e-7));
        }
    }
    const auto hashes = column(four, "train/rank_weight_hash");
    REQUIRE(hashes.size() == 4);
    for (const double h : hashes) CHECK(h == hashes[0]);
    CHECK(column(four, "eval/n")[0] == 40);
    // a near tie may flip one of the 40 predictions under rounding-level weight differences
    CHECK(column(four, "eval/accuracy")[0] == Approx(column(one, "eval/accuracy")[0]).margin(0.026));
    clean_run(one);
    clean_run(four);
}

TEST_CASE("two ranks started the way torchrun starts them (TCPStore on MASTER_ADDR:MASTER_PORT) train to the end",
          "[distributed][cli]") {
    const std::string cfg = write_file("dp_tcp.toml", tiny_config(8, 4));
    const std::string out = dir + "/dp_tcp.h5";
    clean_run(out);
    const std::string port = std::to_string(free_port());
    const std::vector<std::string> args{"train", cfg, "-o", out, "--no-progress", "--timeout", "60"};
    const std::vector<std::string> tcp{"MASTER_ADDR=127.0.0.1", "MASTER_PORT=" + port};
    const pid_t r1 = start(args, dir + "/dp_tcp_1.log", rank_of_two(1, tcp));  // a worker may come first
    const pid_t r0 = start(args, dir + "/dp_tcp_0.log", rank_of_two(0, tcp));
    int s0 = 0, s1 = 0;
    REQUIRE(waitpid(r0, &s0, 0) == r0);
    REQUIRE(waitpid(r1, &s1, 0) == r1);
    INFO(slurp(dir + "/dp_tcp_0.log"));
    INFO(slurp(dir + "/dp_tcp_1.log"));
    CHECK((WIFEXITED(s0) && WEXITSTATUS(s0) == 0));
    CHECK((WIFEXITED(s1) && WEXITSTATUS(s1) == 0));
    const auto hashes = column(out, "train/rank_weight_hash");
    REQUIRE(hashes.size() == 2);
    CHECK(hashes[0] == hashes[1]);
    CHECK(column(out, "train/metrics/step").size() == 8);
    // Rank 1 wrote nothing and printed no result of its own.
    CHECK(slurp(dir + "/dp_tcp_1.log").find("test accuracy") == std::string::npos);
    CHECK(slurp(dir + "/dp_tcp_0.log").find("test accuracy") != std::string::npos);
    clean_run(out);
}

TEST_CASE("a 2-rank run killed inside a checkpoint write resumes at world size 1 and ends where 2 ranks end",
          "[distributed][cli][resume]") {
    const std::string cfg = write_file("dp_resume.toml", tiny_config(12, 4));  // checkpoints at 0 4 8 12
    const std::string ref = dir + "/dp_resume_ref.h5", out = dir + "/dp_resume.h5";
    clean_run(ref);
    clean_run(out);
    REQUIRE(run("train " + cfg + " -o " + ref + " --nproc 2 --no-progress").code == 0);
    // Rank 0 (the only writer) is killed before publishing its third checkpoint (step 8): the launcher
    // stops rank 1 and says how to resume; step 4's checkpoint is the last one.
    const Result killed =
        shell("exec env LD_PRELOAD=" + std::string(RMAAT_KILL_AT_LIB) + " RMAAT_KILL_AT='rename:.ckpt$:3' " +
              RMAAT_CLI + " train " + cfg + " -o " + out + " --nproc 2 --no-progress");
    INFO(killed.output);
    REQUIRE(killed.code == 1);
    CHECK_THAT(killed.output, ContainsSubstring("rank 0 failed (exit 137)"));
    CHECK_THAT(killed.output, ContainsSubstring("rmaat train --resume " + out));
    REQUIRE(exists(out + ".ckpt"));
    CHECK(!exists(out));
    const Result resumed = run("train --resume " + out + " --no-progress");  // one process
    INFO(resumed.output);
    REQUIRE(resumed.code == 0);
    CHECK_THAT(resumed.output, ContainsSubstring("from step 4"));
    const auto steps = column(out, "train/metrics/step");
    REQUIRE(steps.size() == 12);  // steps 1-4 from the 2-rank run, 5-12 from the resumed one
    CHECK(steps.back() == 12);
    const auto [diff, scale] = params_distance(ref, out);
    INFO("max |2 ranks - resumed at 1| = " << diff << " of weights up to " << scale);
    CHECK(diff < 1e-5);
    CHECK(scale > 0.1);
    clean_run(ref);
    clean_run(out);
}

TEST_CASE("Ctrl-C on the launcher stops every rank at one step, rank 0 checkpoints, and the resume is bitwise",
          "[distributed][cli][resume]") {
    const std::string cfg = write_file("dp_sigint.toml", tiny_config(300, 100));
    const std::string ref = dir + "/dp_sigint_ref.h5", out = dir + "/dp_sigint.h5";
    clean_run(ref);
    clean_run(out);
    REQUIRE(run("train " + cfg + " -o " + ref + " --nproc 2 --no-progress").code == 0);
    const pid_t launcher = start({"train", cfg, "-o", out, "--nproc", "2", "--no-progress"}, dir + "/dp_sigint.log");
    const auto t0 = Clock::now();
    while (!exists(out + ".ckpt") && Clock::now() - t0 < std::chrono::seconds(120))
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the step-0 checkpoint is written, then steps
    REQUIRE(kill(launcher, SIGINT) == 0);                         // what a terminal's Ctrl-C sends it
    int status = 0;
    REQUIRE(waitpid(launcher, &status, 0) == launcher);
    const std::string log = slurp(dir + "/dp_sigint.log");
    INFO(log);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 130);  // stopped, not finished and not failed
    CHECK_THAT(log, ContainsSubstring("training stopped by SIGINT at step"));
    CHECK_THAT(log, ContainsSubstring("--nproc 2: the ranks were stopped by SIGINT"));
    int64_t stopped_at = 0;
    {
        const h5::File f = h5::File::open_read(out + ".ckpt");
        stopped_at = f.root().open_group("train/state").attr_int("step");
    }
    INFO("stopped at step " << stopped_at);
    CHECK(stopped_at > 0);
    CHECK(stopped_at < 300);
    const Result resumed = run("train --resume " + out + " --nproc 2 --no-progress");
    INFO(resumed.output);
    REQUIRE(resumed.code == 0);
    // The same world size: the same reductions in the same order, so the weights are equal bit for bit.
    const auto [diff, scale] = params_distance(ref, out);
    CHECK(diff == 0.0);
    CHECK(scale > 0.1);
    clean_run(ref);
    clean_run(out);
}

TEST_CASE("a rank killed mid-run ends the other with an error, and an unreachable store too", "[distributed][cli]") {
    const std::string cfg = write_file("dp_kill.toml", tiny_config(100000, 50));
    const std::string out = dir + "/dp_kill.h5", store = dir + "/dp_kill.store";
    clean_run(out);
    std::remove(store.c_str());
    const std::vector<std::string> args{"train", cfg, "-o", out, "--no-progress", "--timeout", "20"};
    const std::vector<std::string> file{"RMAAT_STORE_FILE=" + store};
    const pid_t r0 = start(args, dir + "/dp_kill_0.log", rank_of_two(0, file));
    const pid_t r1 = start(args, dir + "/dp_kill_1.log", rank_of_two(1, file));
    // Training: the first step's metrics are in (rank 0 flushes every 10 steps) or a checkpoint exists.
    const auto t_start = Clock::now();
    while (!exists(out + ".ckpt") && Clock::now() - t_start < std::chrono::seconds(120))
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    REQUIRE(exists(out + ".ckpt"));
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // well inside the step loop
    REQUIRE(kill(r1, SIGKILL) == 0);
    const auto t_kill = Clock::now();
    int status = 0;
    pid_t w = 0;
    while ((w = waitpid(r0, &status, WNOHANG)) == 0 && Clock::now() - t_kill < std::chrono::seconds(60))
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    waitpid(r1, nullptr, 0);
    const double waited = std::chrono::duration<double>(Clock::now() - t_kill).count();
    if (w == 0) kill(r0, SIGKILL);
    const std::string log0 = slurp(dir + "/dp_kill_0.log");
    INFO(log0);
    INFO("rank 0 ended " << waited << " s after rank 1 was killed");
    REQUIRE(w == r0);
    CHECK(waited < 20 + 10);  // within the collectives' timeout (Gloo sees the closed connection at once)
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 1);
    CHECK_THAT(log0, ContainsSubstring("data-parallel rank 0 of 2"));
    CHECK_THAT(log0, ContainsSubstring("resume the run from its last checkpoint"));
    CHECK(exists(out + ".ckpt"));  // what the resume starts from
    clean_run(out);
    std::remove(store.c_str());

    // Rank 1 of 2 with nobody serving MASTER_ADDR:MASTER_PORT: an error after --timeout, no hang.
    const int port = free_port();
    const auto t0 = Clock::now();
    const Result lonely = shell("RANK=1 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port) + " " +
                                RMAAT_CLI + " train " + cfg + " -o " + out + " --no-progress --timeout 3");
    const double took = std::chrono::duration<double>(Clock::now() - t0).count();
    INFO(lonely.output);
    CHECK(lonely.code == 1);
    CHECK_THAT(lonely.output, ContainsSubstring("MASTER_PORT=" + std::to_string(port) + " cannot be reached"));
    CHECK(took < 3 + 30);
    CHECK(!exists(out));
    clean_run(out);
}

TEST_CASE("a launch inside a launched job, a bad RANK, a bad rank count and a ranked pipeline are refused",
          "[distributed][cli]") {
    const std::string cfg = write_file("dp_check.toml", tiny_config(2, 1));
    const std::string out = dir + "/dp_check.h5";
    clean_run(out);
    Result r = shell("WORLD_SIZE=2 RANK=0 " + std::string(RMAAT_CLI) + " train " + cfg + " -o " + out +
                     " --nproc 2 --no-progress");
    CHECK(r.code == 2);
    CHECK_THAT(r.output, ContainsSubstring("--nproc 2 inside a rank of a launched job (WORLD_SIZE=2)"));
    r = shell("WORLD_SIZE=2 RANK=5 " + std::string(RMAAT_CLI) + " train " + cfg + " -o " + out + " --no-progress");
    CHECK(r.code == 2);
    CHECK_THAT(r.output, ContainsSubstring("RANK 5 is not below WORLD_SIZE 2"));
    r = shell("WORLD_SIZE=2 RANK=0 " + std::string(RMAAT_CLI) + " pipeline " + cfg + " -o " + dir + "/dp_pipe");
    CHECK(r.code == 2);
    CHECK_THAT(r.output, ContainsSubstring("rmaat pipeline runs as one process (WORLD_SIZE=2 is set)"));
    r = run("train " + cfg + " -o " + out + " --nproc 0");
    CHECK(r.code == 2);
    CHECK_THAT(r.output, ContainsSubstring("--nproc"));
    CHECK(!exists(out));
}
