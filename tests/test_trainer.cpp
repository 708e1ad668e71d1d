// The trainer (docs/design.md section 6.2): AdamW and the schedules against their formulas, the
// [train]/[data] checks, a tiny run end to end (metrics readable with h5py while and after it runs),
// exact resume after kill -9 at several moments, refused checkpoints, learning on ListOps-mini, eval.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/config.hpp"
#include "core/h5_store.hpp"
#include "tests/catch.hpp"
#include "tests/cli_run.hpp"
#include "tests/train_run.hpp"
#include "trainer/optim.hpp"
#include "trainer/run_file.hpp"
#include "trainer/train_config.hpp"

using namespace rmaat;
using namespace rmaat::trainer;

namespace {

using rmaat::testing::clean_run;
using rmaat::testing::exists;
using rmaat::testing::params_of;
using rmaat::testing::Result;
using rmaat::testing::run;
using rmaat::testing::shell;
using rmaat::testing::start;

const std::string dir = std::string(RMAAT_BINARY_DIR) + "/trainer_test";

std::string write_file(const std::string& name, const std::string& text) {
    return rmaat::testing::write_in(dir, name, text);
}

// A tiny RMAAT on generated ListOps-mini: a few seconds on one thread.
std::string tiny_config(int steps, int checkpoint_every, const std::string& extra = "") {
    return "[model]\nkind = \"rmaat\"\nd_model = 16\nn_heads = 2\nn_layers = 1\nd_ff = 32\ndropout = 0.0\n"
           "segment_length = 32\nmemory_tokens = 4\n\n[train]\nsteps = " +
           std::to_string(steps) +
           "\nbatch_size = 16\nlr = 0.003\nwarmup = 5\nschedule = \"cosine\"\neval_every = 10\neval_batches = 2\n"
           "checkpoint_every = " +
           std::to_string(checkpoint_every) + "\nthreads = 1\nseed = 3\n" + extra +
           "\n[data]\ntask = \"listops-mini\"\ngenerate = true\nn_train = 400\nn_val = 64\nn_test = 64\nseed = 5\n";
}

}  // namespace

TEST_CASE("AdamW follows the decoupled-decay formula and torch::optim::AdamW", "[trainer][optim]") {
    torch::manual_seed(0);
    const auto p0 = torch::randn({3, 4}, torch::kDouble);
    auto p = p0.clone().requires_grad_(true);
    auto q = p0.clone().requires_grad_(true);
    const AdamWOptions o{0.9, 0.99, 1e-8, 0.1};
    AdamW mine({p}, o);
    torch::optim::AdamW ref({q}, torch::optim::AdamWOptions(0.01).betas({0.9, 0.99}).eps(1e-8).weight_decay(0.1));
    // The formula by hand, element 0.
    double x = p0[0][0].item<double>(), m = 0, v = 0;
    for (int t = 1; t <= 5; ++t) {
        const auto g = torch::sin(p0 * t);
        mine.zero_grad();
        ref.zero_grad();
        p.mutable_grad() = g.clone();
        q.mutable_grad() = g.clone();
        const double lr = 0.01;
        mine.step(lr);
        ref.step();
        const double gx = g[0][0].item<double>();
        x -= lr * 0.1 * x;
        m = 0.9 * m + 0.1 * gx;
        v = 0.99 * v + 0.01 * gx * gx;
        x -= lr * (m / (1 - std::pow(0.9, t))) / (std::sqrt(v / (1 - std::pow(0.99, t))) + 1e-8);
    }
    CHECK(mine.steps() == 5);
    CHECK(p[0][0].item<double>() == Approx(x).epsilon(1e-12));
    CHECK(torch::equal(p.detach(), q.detach()));  // same operations in the same order
}

TEST_CASE("learning-rate schedules: LRA's rsqrt, cosine and constant", "[trainer][optim]") {
    // rsqrt: lr min(1, t/w) / sqrt(max(t, w)); the peak lr/sqrt(w) at t = w.
    CHECK(learning_rate(Schedule::rsqrt, 0.05, 100, 1000, 1) == Approx(0.05 * 0.01 / 10));
    CHECK(learning_rate(Schedule::rsqrt, 0.05, 100, 1000, 100) == Approx(0.05 / 10));
    CHECK(learning_rate(Schedule::rsqrt, 0.05, 100, 1000, 400) == Approx(0.05 / 20));
    CHECK(learning_rate(Schedule::cosine, 1e-3, 10, 110, 5) == Approx(5e-4));
    CHECK(learning_rate(Schedule::cosine, 1e-3, 10, 110, 60) == Approx(5e-4));
    CHECK(learning_rate(Schedule::cosine, 1e-3, 10, 110, 110) == Approx(0.0).margin(1e-15));
    CHECK(learning_rate(Schedule::constant, 1e-3, 10, 110, 3) == Approx(3e-4));
    CHECK(learning_rate(Schedule::constant, 1e-3, 10, 110, 50) == Approx(1e-3));
}

TEST_CASE("gradient clipping by global norm", "[trainer][optim]") {
    auto a = torch::zeros({2}, torch::kDouble).requires_grad_(true);
    auto b = torch::zeros({1}, torch::kDouble).requires_grad_(true);
    a.mutable_grad() = torch::tensor({3.0, 0.0}, torch::kDouble);
    b.mutable_grad() = torch::tensor({4.0}, torch::kDouble);
    CHECK(clip_grad_norm({a, b}, 10.0) == Approx(5.0));
    CHECK(a.grad()[0].item<double>() == Approx(3.0));
    CHECK(clip_grad_norm({a, b}, 1.0) == Approx(5.0));
    CHECK(a.grad()[0].item<double>() == Approx(0.6).epsilon(1e-5));
    CHECK(b.grad()[0].item<double>() == Approx(0.8).epsilon(1e-5));
}

TEST_CASE("[train] and [data] are checked with file, line and key", "[trainer][config]") {
    auto err = [](const std::string& text) {
        try {
            const Config c = Config::from_string(text, "t.toml");
            read_run_config(c, "");
            c.check_all_used();
        } catch (const ConfigError& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    CHECK_THAT(err("[train]\nsteps = 0\n[data]\ntask = \"listops-mini\"\ngenerate = true\n"),
               ContainsSubstring("t.toml:2") && ContainsSubstring("train.steps"));
    CHECK_THAT(err("[train]\nschedule = \"linear\"\n[data]\ntask = \"listops-mini\"\ngenerate = true\n"),
               ContainsSubstring("rsqrt"));
    CHECK_THAT(err("[train]\nbackprop = \"x\"\n[data]\ntask = \"listops-mini\"\ngenerate = true\n"),
               ContainsSubstring("amrb"));
    CHECK_THAT(err("[train]\nprecision = \"fp16\"\n[data]\ntask = \"listops-mini\"\ngenerate = true\n"),
               ContainsSubstring("t.toml:2") && ContainsSubstring("train.precision") && ContainsSubstring("bf16"));
    CHECK(err("[train]\nprecision = \"bf16\"\n[data]\ntask = \"listops-mini\"\ngenerate = true\n").empty());
    CHECK_THAT(err("[train]\n[data]\ntask = \"nope\"\n"), ContainsSubstring("data.task"));
    CHECK_THAT(err("[train]\n[data]\ntask = \"listops-mini\"\n"), ContainsSubstring("data.train"));
    CHECK_THAT(err("[train]\n[data]\ntask = \"image\"\ngenerate = true\n"), ContainsSubstring("no generator"));
    CHECK_THAT(err("[train]\nstep = 3\n[data]\ntask = \"listops-mini\"\ngenerate = true\n"),
               ContainsSubstring("t.toml:2") && ContainsSubstring("steps"));
    CHECK_THAT(err("[train]\ndevice = \"gpu\"\n[data]\ntask = \"listops-mini\"\ngenerate = true\n"),
               ContainsSubstring("t.toml:2") && ContainsSubstring("train.device") && ContainsSubstring("cuda:N"));
    CHECK(err("[train]\ndevice = \"cuda:1\"\n[data]\ntask = \"listops-mini\"\ngenerate = true\n").empty());

    // The model's sizes come from the data; a stated one must agree.
    const Config c = Config::from_string(
        "[model]\nvocab_size = 100\n[train]\n[data]\ntask = \"listops-mini\"\ngenerate = true\n", "v.toml");
    RunConfig rc = read_run_config(c, "");
    RunData d;
    d.train.vocab.symbols.assign(16, "x");
    d.train.n_classes = 10;
    d.train.examples.push_back({{1, 2, 3}, {}, 0});
    try {
        fit_model_to_data(c, rc.model, d);
        FAIL("no error");
    } catch (const ConfigError& e) {
        CHECK_THAT(std::string(e.what()),
                   ContainsSubstring("v.toml:2") && ContainsSubstring("vocab_size") && ContainsSubstring("16"));
    }
}

TEST_CASE("every config under experiments/ and examples/ reads without an error or an unused key",
          "[trainer][config]") {
    int n = 0;
    for (const char* folder : {"experiments/lra", "experiments/fashion_mnist", "experiments/ablations", "examples"}) {
        const std::string d = std::string(RMAAT_SOURCE_DIR) + "/" + folder;
        for (const auto& e : std::filesystem::directory_iterator(d)) {
            if (e.path().extension() != ".toml") continue;
            const Config c = Config::from_file(e.path().string());
            if (!c.root().has("train")) continue;  // simulation-only examples
            for (const char* other : {"run", "network", "calcium", "calibration"}) c.ignore_section(other);
            INFO(e.path().string());
            CHECK_NOTHROW(read_run_config(c, e.path().parent_path().string()), c.check_all_used());
            ++n;
        }
    }
    CHECK(n >= 16);  // 5 LRA tasks, 5 Fashion-MNIST models, 4 ablations, the ListOps-mini and demo examples
}

TEST_CASE("a tiny run: metrics, eval and weights in the run file, readable with h5py", "[trainer][cli]") {
    const std::string cfg = write_file("tiny.toml", tiny_config(30, 10));
    const std::string out = dir + "/tiny.h5";
    clean_run(out);
    const Result r = run("train " + cfg + " -o " + out + " --no-progress");
    INFO(r.output);
    REQUIRE(r.code == 0);
    CHECK_THAT(r.output, ContainsSubstring("accuracy"));
    CHECK(exists(out));
    CHECK_FALSE(exists(out + ".ckpt"));  // removed once the run file is published
    const Result py = shell(
        "/usr/bin/python3 -c \"import h5py\nwith h5py.File('" + out +
        "', 'r') as f:\n    m = f['train/metrics']\n    print('rows', len(m['step']), int(m['step'][-1]), "
        "len(m['loss']), len(f['train/eval/accuracy']))\n    print('status', f.attrs['status'])\n    print('acc', "
        "float(f['eval/accuracy'][()]), f['eval/confusion'].shape)\n    print('W_R', "
        "f['model/params/layers.0.attention.W_R'].shape)\"");
    INFO(py.output);
    CHECK(py.code == 0);
    CHECK_THAT(py.output, ContainsSubstring("rows 30 30 30 3"));
    CHECK_THAT(py.output, ContainsSubstring("complete"));
    CHECK_THAT(py.output, ContainsSubstring("(10, 10)"));

    SECTION("rmaat eval on the run's split and on a file") {
        const Result e = run("eval " + out);
        INFO(e.output);
        CHECK(e.code == 0);
        CHECK_THAT(e.output, ContainsSubstring("accuracy") && ContainsSubstring("confusion"));
        const Result f = run("eval " + out + " --data " + out + ".data/mini_val.tsv --final");
        INFO(f.output);
        CHECK(f.code == 0);
        CHECK_THAT(f.output, ContainsSubstring("on 64 examples"));
    }
}

TEST_CASE("a CUDA device where none is available is refused before anything is written", "[trainer][cli]") {
    if (torch::cuda::is_available()) return;  // on a GPU machine the device exists (the gpu tests train there)
    const std::string cfg = write_file("cuda.toml", tiny_config(5, 5, "device = \"cuda\""));
    const std::string out = dir + "/cuda.h5";
    clean_run(out);
    const Result r = run("train " + cfg + " -o " + out + " --no-progress");
    INFO(r.output);
    CHECK(r.code == 2);
    CHECK_THAT(r.output, ContainsSubstring("device = \"cuda\"") && ContainsSubstring("no CUDA device"));
    CHECK_FALSE(exists(out));
    CHECK_FALSE(exists(out + ".ckpt"));
    const Result flag = run("train " + cfg + " -o " + out + " --no-progress --device cuda:0");
    CHECK(flag.code == 2);
    CHECK_THAT(flag.output, ContainsSubstring("no CUDA device"));
    const Result bad = run("train " + cfg + " -o " + out + " --no-progress --device tpu");
    CHECK(bad.code == 2);
    CHECK_THAT(bad.output, ContainsSubstring("--device \"tpu\""));
    CHECK_FALSE(exists(out));
}

TEST_CASE("metrics are readable with plain h5py (no locking options) while the run writes", "[trainer][cli]") {
    const std::string cfg = write_file("while.toml", tiny_config(400, 50));
    const std::string out = dir + "/while.h5";
    clean_run(out);
    const pid_t pid = start({"train", cfg, "-o", out, "--no-progress"}, dir + "/while.log");
    // Wait until the first checkpoint (written after the run file's first flush) and 20 more steps.
    while (!exists(out + ".ckpt")) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    bool read = false;
    for (int i = 0; i < 400 && !read; ++i) {
        const Result py = shell("/usr/bin/python3 -c \"import h5py, glob\nf = h5py.File(sorted(glob.glob('" + out +
                                ".partial.*'))[0], 'r')\nprint('rows', len(f['train/metrics/loss']))\"");
        if (py.code == 0 && py.output.find("rows 0") == std::string::npos) read = true;
        if (waitpid(pid, nullptr, WNOHANG) == pid) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    CHECK(read);
    clean_run(out);
}

namespace {

// Trains `cfg` into `out`, killing the run `delay_ms` (+ 7 ms per earlier kill) after each new checkpoint
// and resuming it, until it finishes; returns the number of kills. Each round makes progress, and the
// kills land at different moments (mid-step, mid-evaluation, mid-write).
int train_with_kills(const std::string& cfg, const std::string& out, int delay_ms) {
    clean_run(out);
    pid_t pid = start({"train", cfg, "-o", out, "--no-progress"}, dir + "/resume.log");
    int kills = 0;
    ino_t last = 0;
    for (;;) {
        for (;;) {
            struct stat st {};
            if (stat((out + ".ckpt").c_str(), &st) == 0 && st.st_ino != last) {
                last = st.st_ino;
                break;
            }
            if (waitpid(pid, nullptr, WNOHANG) == pid) {
                pid = -1;
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        if (pid > 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms + 7 * kills));
            kill(pid, SIGKILL);
            waitpid(pid, nullptr, 0);
        }
        // The checkpoint as the killed run left it: the next round waits for the resumed run's own.
        struct stat st {};
        if (stat((out + ".ckpt").c_str(), &st) == 0) last = st.st_ino;
        if (exists(out)) return kills;
        ++kills;
        REQUIRE(kills < 40);
        pid = start({"train", "--resume", out, "--no-progress"}, dir + "/resume.log");
    }
}

void check_same_params(const std::string& got_path,
                       const std::vector<std::pair<std::string, std::vector<double>>>& want) {
    const auto got = params_of(got_path);
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i) {
        INFO(got[i].first);
        CHECK(got[i].first == want[i].first);
        CHECK(got[i].second == want[i].second);  // bitwise
    }
}

}  // namespace

TEST_CASE("plot_run.py draws the training curves and the evaluation of a run", "[trainer][cli]") {
    const std::string cfg = write_file("plot.toml", tiny_config(30, 10));
    const std::string out = dir + "/plot.h5", plots = dir + "/plot_figs";
    clean_run(out);
    REQUIRE(run("train " + cfg + " -o " + out + " --no-progress").code == 0);
    // Records what each figure's first axes hold when it is saved.
    const std::string py = write_file("plot_check.py", R"PY(import sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.figure as mf
seen = {}
save = mf.Figure.savefig
def record(fig, path, *a, **k):
    ax = fig.axes[0]
    seen[str(path).split("/")[-1]] = ([len(l.get_xdata()) for l in ax.lines], [i.get_array().shape for i in ax.images])
    return save(fig, path, *a, **k)
mf.Figure.savefig = record
sys.path.insert(0, sys.argv[3])
import plot_run
plot_run.main([sys.argv[1], "-o", sys.argv[2]])
print("curves:", seen["training_curves.png"][0], "eval:", seen["training_eval.png"][1])
)PY");
    const Result r = shell("/usr/bin/python3 " + py + " " + out + " " + plots + " " + RMAAT_SOURCE_DIR + "/scripts");
    INFO(r.output);
    REQUIRE(r.code == 0);
    // Loss per step, its running mean (30 steps each) and the 3 validation points; a 10 x 10 confusion image.
    CHECK_THAT(r.output, ContainsSubstring("curves: [30, 30, 3]") && ContainsSubstring("eval: [(10, 10)]"));
    CHECK(exists(plots + "/training_curves.png"));
    CHECK(exists(plots + "/training_eval.png"));
    clean_run(out);
}

TEST_CASE("a run killed with kill -9 resumes to the same weights, bit for bit", "[trainer][cli][resume]") {
    const std::string cfg = write_file("resume.toml", tiny_config(60, 7));
    const std::string ref = dir + "/resume_ref.h5", out = dir + "/resume.h5";
    clean_run(ref);
    REQUIRE(run("train " + cfg + " -o " + ref + " --no-progress").code == 0);
    const auto want = params_of(ref);
    REQUIRE(!want.empty());
    int resumed_runs = 0;
    for (int delay_ms : {0, 25, 120}) {
        const int kills = train_with_kills(cfg, out, delay_ms);
        if (kills > 0) ++resumed_runs;
        INFO("delay " << delay_ms << " ms, " << kills << " kills");
        check_same_params(out, want);
        const Result py =
            shell("/usr/bin/python3 -c \"import h5py\nf = h5py.File('" + out +
                  "', 'r')\nprint('rows', len(f['train/metrics/step']), list(f['train/metrics/step'][:3]))\"");
        CHECK_THAT(py.output, ContainsSubstring("rows 60 [1.0, 2.0, 3.0]"));
    }
    CHECK(resumed_runs > 0);
    clean_run(out);
    clean_run(ref);
}

TEST_CASE("with dropout on, a killed and resumed run ends with the same weights, bit for bit",
          "[trainer][cli][resume]") {
    // Keyed dropout: the masks are a function of (seed, step, segment, layer, site), so a resumed run draws
    // the ones the uninterrupted run drew, with no generator state saved.
    std::string text = tiny_config(40, 6);
    text.replace(text.find("dropout = 0.0"), 13, "dropout = 0.2");
    const std::string cfg = write_file("resume_dropout.toml", text);
    const std::string ref = dir + "/resume_dropout_ref.h5", out = dir + "/resume_dropout.h5";
    clean_run(ref);
    REQUIRE(run("train " + cfg + " -o " + ref + " --no-progress").code == 0);
    const auto want = params_of(ref);
    const int kills = train_with_kills(cfg, out, 30);
    INFO(kills << " kills");
    CHECK(kills > 0);
    check_same_params(out, want);
    // Dropout acts: the same run without it ends elsewhere, so the equality above covers the masks.
    const std::string ocfg = write_file("resume_no_dropout.toml", tiny_config(40, 6)),
                      oout = dir + "/resume_no_dropout.h5";
    clean_run(oout);
    REQUIRE(run("train " + ocfg + " -o " + oout + " --no-progress").code == 0);
    CHECK(params_of(oout) != want);
    clean_run(out);
    clean_run(ref);
    clean_run(oout);
}

TEST_CASE("a run killed at exact points inside its checkpoint writes resumes to the same weights, bit for bit",
          "[trainer][cli][resume]") {
    // Deterministic kills (tests/kill_at.c): SIGKILL before the k-th pwrite into a checkpoint's working
    // file, before a checkpoint's publishing rename, and before the run file's own; then resume (or, when
    // the kill came before the first checkpoint existed, start again) and compare with an unkilled run.
    const std::string cfg = write_file("kill_at.toml", tiny_config(30, 7));  // checkpoints at 0 7 14 21 28 30
    const std::string ref = dir + "/kill_at_ref.h5", out = dir + "/kill_at.h5";
    clean_run(ref);
    REQUIRE(run("train " + cfg + " -o " + ref + " --no-progress").code == 0);
    const auto want = params_of(ref);
    const std::string train = std::string(RMAAT_CLI) + " train " + cfg + " -o " + out + " --no-progress";
    auto with_kill = [&](const std::string& spec) {
        return shell("exec env LD_PRELOAD=" + std::string(RMAAT_KILL_AT_LIB) + " RMAAT_KILL_AT='" + spec + "' " +
                     train);
    };
    clean_run(out);
    const Result counted = with_kill("pwrite:.ckpt.partial:0");
    INFO(counted.output);
    REQUIRE(counted.code == 0);
    const auto at = counted.output.find("kill_at: pwrite .ckpt.partial ");
    REQUIRE(at != std::string::npos);
    const long writes = std::stol(counted.output.substr(at + 30));
    REQUIRE(writes >= 12);  // six checkpoints, each more than one write
    check_same_params(out, want);

    const std::vector<std::string> points{
        "pwrite:.ckpt.partial:1",                              // the first checkpoint's first write
        "pwrite:.ckpt.partial:" + std::to_string(writes / 3),  // inside a middle checkpoint
        "pwrite:.ckpt.partial:" + std::to_string(writes / 2 + 1),
        "pwrite:.ckpt.partial:" + std::to_string(writes),  // the last write of the last checkpoint
        "rename:.ckpt$:1",                                 // the first checkpoint, written, not published
        "rename:.ckpt$:4",
        "rename:kill_at.h5$:1",  // every checkpoint done, the run not published
    };
    for (const auto& point : points) {
        INFO("killed before " << point);
        clean_run(out);
        const Result killed = with_kill(point);
        INFO(killed.output);
        REQUIRE(killed.code == -1);  // the process reached the chosen call and died there
        CHECK(!exists(out));
        const Result resumed = run("train --resume " + out + " --no-progress");
        INFO(resumed.output);
        if (resumed.code != 0) {  // killed before the first checkpoint was published: nothing to resume
            CHECK_THAT(resumed.output, ContainsSubstring("no checkpoint"));
            REQUIRE(run("train " + cfg + " -o " + out + " --no-progress --force").code == 0);
        }
        check_same_params(out, want);
        CHECK(!exists(out + ".ckpt"));
    }
    clean_run(out);
    clean_run(ref);
}

TEST_CASE("SIGTERM writes a checkpoint at the next step and exits 143", "[trainer][cli][resume]") {
    const std::string cfg = write_file("term.toml", tiny_config(300, 1000));
    const std::string out = dir + "/term.h5";
    clean_run(out);
    const std::string log = dir + "/term.log";
    const pid_t pid = start({"train", cfg, "-o", out, "--no-progress"}, log);
    while (!exists(out + ".ckpt")) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    std::ifstream in(log);
    const std::string text((std::istreambuf_iterator<char>(in)), {});
    INFO(text);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 143);
    CHECK_THAT(text, ContainsSubstring("--resume"));
    const h5::File c = h5::File::open_read(out + ".ckpt");
    CHECK(c.root().open_group("train/state").attr_int("step") > 0);
}

TEST_CASE("a corrupt or foreign checkpoint is refused with a clear message", "[trainer][cli][resume]") {
    const std::string out = dir + "/bad.h5";
    clean_run(out);
    CHECK_THAT(run("train --resume " + out).output, ContainsSubstring("no checkpoint"));
    write_file("bad.h5.ckpt", "this is not HDF5");
    Result r = run("train --resume " + out);
    INFO(r.output);
    CHECK(r.code == 2);
    CHECK_THAT(r.output, ContainsSubstring("bad.h5.ckpt"));
    {  // an HDF5 file, but not a checkpoint
        std::remove((out + ".ckpt").c_str());
        h5::File f = h5::File::create(out + ".ckpt");
        f.root().attr("tool", std::string("rmaat"));
        f.commit();
    }
    r = run("train --resume " + out);
    INFO(r.output);
    CHECK(r.code == 2);
    CHECK_THAT(r.output, ContainsSubstring("not an rmaat checkpoint"));

    // A real checkpoint whose classifier has the wrong shape.
    const std::string cfg = write_file("bad.toml", tiny_config(200, 5));
    clean_run(out);
    const pid_t pid = start({"train", cfg, "-o", out, "--no-progress"}, dir + "/bad.log");
    while (!exists(out + ".ckpt")) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    const Result py = shell("/usr/bin/python3 -c \"import h5py, numpy\nf = h5py.File('" + out +
                            ".ckpt', 'r+')\ndel f['model/params/classifier.weight']\nf['model/params/"
                            "classifier.weight'] = numpy.zeros((3, 3))\"");
    REQUIRE(py.code == 0);
    r = run("train --resume " + out);
    INFO(r.output);
    CHECK(r.code == 2);
    CHECK_THAT(r.output, ContainsSubstring("classifier.weight") && ContainsSubstring("shape"));
    clean_run(out);
}

TEST_CASE("a small RMAAT beats the majority class on ListOps-mini", "[trainer][cli][learning]") {
    const std::string cfg = write_file(
        "learn.toml",
        "[model]\nkind = \"rmaat\"\nd_model = 32\nn_heads = 4\nn_layers = 2\nd_ff = 64\ndropout = 0.0\n"
        "segment_length = 32\nmemory_tokens = 4\n\n[train]\nsteps = 300\nbatch_size = 32\nlr = 0.003\nwarmup = 20\n"
        "schedule = \"cosine\"\nweight_decay = 0.01\neval_every = 100\nthreads = 1\nseed = 1\n\n[data]\n"
        "task = \"listops-mini\"\ngenerate = true\nn_train = 3000\nn_val = 300\nn_test = 500\nseed = 2\n");
    const std::string out = dir + "/learn.h5";
    clean_run(out);
    const Result r = run("train " + cfg + " -o " + out + " --no-progress");
    INFO(r.output);
    REQUIRE(r.code == 0);
    const h5::File f = h5::File::open_read(out);
    const h5::Group e = f.root().open_group("eval");
    const double acc = e.read_scalar("accuracy"), majority = e.read_scalar("majority");
    INFO("accuracy " << acc << ", majority " << majority);
    CHECK(acc > 1.5 * majority);
    clean_run(out);
}
