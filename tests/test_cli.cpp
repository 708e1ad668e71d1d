// The rmaat CLI end to end: help for every subcommand, run files readable without the toolkit
// (h5dump, h5py), and bad input that exits non-zero with a clear message.
#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "core/h5_store.hpp"
#include "tests/catch.hpp"
#include "tests/cli_run.hpp"

namespace {

using rmaat::testing::Result;
using rmaat::testing::run;
using rmaat::testing::exists;
using rmaat::testing::shell;

const std::string dir = std::string(RMAAT_BINARY_DIR) + "/cli_test";

std::string write_file(const std::string& name, const std::string& text) {
    return rmaat::testing::write_in(dir, name, text);
}

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// The working files "<out>.partial.*" of runs writing `out`.
std::vector<std::string> partials(const std::string& out) {
    std::vector<std::string> found;
    glob_t g{};
    if (glob((out + ".partial*").c_str(), 0, nullptr, &g) == 0)
        for (size_t i = 0; i < g.gl_pathc; ++i) found.emplace_back(g.gl_pathv[i]);
    globfree(&g);
    return found;
}

void remove_outputs(const std::string& out) {
    std::remove(out.c_str());
    for (const auto& p : partials(out)) std::remove(p.c_str());
}

// `rmaat args` started in the background, its output into `log`.
pid_t start(const std::vector<std::string>& args, const std::string& log) {
    const pid_t pid = fork();
    if (pid == 0) {
        const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        std::vector<char*> argv{const_cast<char*>(RMAAT_CLI)};
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        execv(RMAAT_CLI, argv.data());
        _exit(127);
    }
    return pid;
}

// The line of the output that reports the error ("rmaat: error: ...").
std::string error_line(const std::string& output) {
    const auto at = output.find("rmaat: error: ");
    return at == std::string::npos ? "" : output.substr(at, output.find('\n', at) - at);
}

// Whether `path` starts with the HDF5 signature: the superblock, written last by a flush, is there.
bool has_hdf5_signature(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    char sig[8] = {};
    in.read(sig, 8);
    return in.gcount() == 8 && std::string(sig, 8) == "\x89HDF\r\n\x1a\n";
}

// Waits until the run writing `out` has created its working file (and, with `flushed`, flushed it once:
// before its first flush, right after creation, the file is empty and claims nothing); false when the
// process ended first.
bool wait_for_partial(pid_t pid, const std::string& out, bool flushed = false) {
    for (;;) {
        const auto found = partials(out);
        if (!found.empty() && (!flushed || has_hdf5_signature(found[0]))) return true;
        if (waitpid(pid, nullptr, WNOHANG) == pid) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
}

// Reads every dataset of an HDF5 file in full with h5py; "ok N" (N datasets) or the error.
Result read_all_with_h5py(const std::string& path) {
    return shell(
        "/usr/bin/python3 -c \"import h5py\nn = []\nwith h5py.File('" + path +
        "', 'r') as f:\n    f.visititems(lambda k, o: n.append(o[()]) if isinstance(o, h5py.Dataset) else None)\n"
        "print('ok', len(n))\"");
}

// A calcium run (1 Hz, the example's model) long enough to be caught while it writes.
const std::string kLongCalcium = R"([run]
models = ["calcium"]
[calcium]
duration_s = 600.0
record_dt_s = 0.01
stats_window_s = [120.0, 600.0]
[calcium.input]
spikes = "regular"
rate_hz = 1.0
)";

const char* kSmallNetwork = R"([run]
models = ["network"]
[network]
n_pre = 2
n_post = 2
cycles = 2
)";

// An address-space limit (ulimit -v) above what a bare rmaat maps (~0.8 GB, LibTorch included) and
// below a 2.1 GB allocation, so that one fails with std::bad_alloc.
constexpr long kOomAddressSpaceKiB = 1800000;

// AddressSanitizer maps terabytes of shadow memory, so an address-space limit stops the process at start.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif
#else
constexpr bool kAddressSanitizer = false;
#endif

}  // namespace

TEST_CASE("every subcommand has --help", "[cli]") {
    for (const char* sub : {"", "simulate", "pipeline", "inspect"}) {
        const Result r = run(std::string(sub) + " --help");
        INFO(sub << ": " << r.output);
        CHECK(r.code == 0);
        CHECK_THAT(r.output, ContainsSubstring("Usage") || ContainsSubstring("usage"));
    }
    CHECK_THAT(run("--version").output, ContainsSubstring("rmaat 0."));
    CHECK(run("frobnicate").code == 2);
}

TEST_CASE("a run file holds provenance, the resolved config and units, and opens with h5py and h5dump", "[cli]") {
    const std::string cfg = write_file("small.toml", kSmallNetwork);
    const std::string out = dir + "/small.h5";
    const Result r = run("simulate " + cfg + " -o " + out + " --force --no-progress");
    INFO(r.output);
    REQUIRE(r.code == 0);
    REQUIRE(exists(out));
    CHECK(partials(out).empty());

    rmaat::h5::File f = rmaat::h5::File::open_read(out);
    const auto root = f.root();
    CHECK(root.attr_string("status") == "complete");
    CHECK_THAT(root.attr_string("config"), ContainsSubstring("tau_pl = 20.0"));  // defaults resolved
    CHECK_THAT(root.attr_string("command_line"), ContainsSubstring("simulate"));
    CHECK_FALSE(root.attr_string("git_commit").empty());
    CHECK(root.open_group("sim/network/trace").units("time") == "s");
    CHECK(root.open_group("sim/network").units("positions") == "um");

    const Result py = shell("/usr/bin/python3 -c \"import h5py; f = h5py.File('" + out +
                            "', 'r'); print(f['sim/network/ltp/pl_mean'].shape, "
                            "f['sim/network/trace/time'].attrs['units'], f.attrs['tool'])\"");
    INFO(py.output);
    CHECK(py.code == 0);
    CHECK_THAT(py.output, ContainsSubstring("(3,)"));
    const Result dump = shell("h5dump -H " + out);
    CHECK(dump.code == 0);
    CHECK_THAT(dump.output, ContainsSubstring("GROUP \"ltp\""));

    const Result again = run("simulate " + cfg + " -o " + out + " --no-progress");
    CHECK(again.code != 0);
    CHECK_THAT(again.output, ContainsSubstring("exists; pass --force"));

    const Result insp = run("inspect " + out + " --config");
    CHECK(insp.code == 0);
    CHECK_THAT(insp.output, ContainsSubstring("status: complete") && ContainsSubstring("pl_mean [3] 1"));
}

TEST_CASE("bad input: clear message, non-zero exit, no run file under the final name", "[cli][errors]") {
    const std::string out = dir + "/bad.h5";
    std::remove(out.c_str());
    auto expect_error = [&](const std::string& cfg_text, const std::string& message, int code = 2) {
        const std::string cfg = write_file("bad.toml", cfg_text);
        const Result r = run("simulate " + cfg + " -o " + out + " --force --no-progress");
        INFO(r.output);
        CHECK(r.code == code);
        CHECK_THAT(r.output, ContainsSubstring(message));
        CHECK_FALSE(exists(out));
    };
    expect_error("[network]\nn_pre = = 2\n", "bad.toml:2:");
    expect_error("[network]\nn_pre = 2\ntau_n = 0.1\n", "bad.toml:3: unknown key 'network.tau_n'");
    expect_error("[network.params]\ntau_ps = -1.0\n",
                 "bad.toml:2: network.params.tau_ps: value -1 out of range: must be > 0");
    expect_error("[network]\nn_pre = \"two\"\n", "network.n_pre: expected an integer, got a string");
    write_file("coords.txt", "0 0\n1 0\n0 1 2\n1 1\n");
    expect_error("[network]\nn_pre = 2\nn_post = 2\n[network.geometry]\nkind = \"file\"\nfile = \"coords.txt\"\n",
                 "coords.txt:3: expected two coordinates 'x y', got more");

    const std::string cfg = write_file("ok.toml", kSmallNetwork);
    const Result nodir = run("simulate " + cfg + " -o /nonexistent-dir/run.h5 --no-progress");
    CHECK(nodir.code == 2);
    CHECK_THAT(nodir.output, ContainsSubstring("directory '/nonexistent-dir' does not exist"));
    const Result noarg = run("simulate -o " + out);
    CHECK(noarg.code != 0);
    CHECK_THAT(noarg.output, ContainsSubstring("--demo"));
}

TEST_CASE("a NaN-producing parameter set: error names time and variable, the partial run stays readable",
          "[cli][errors]") {
    const std::string cfg = write_file("nan.toml", R"([network]
n_pre = 2
n_post = 2
cycles = 3
[network.params]
gamma_s = 0.1
[network.nonlinearity]
Psi = "relu"
Psi_gain = 50.0
K = "relu"
K_gain = 50.0
)");
    const std::string out = dir + "/nan.h5";
    const Result r = run("simulate " + cfg + " -o " + out + " --force --no-progress");
    INFO(r.output);
    CHECK(r.code == 1);
    CHECK_THAT(r.output,
               ContainsSubstring("non-finite state at t = ") && ContainsSubstring("x[") && ContainsSubstring(out));
    REQUIRE(exists(out));
    rmaat::h5::File f = rmaat::h5::File::open_read(out);
    CHECK_THAT(f.root().attr_string("status"), ContainsSubstring("failed: non-finite state"));
    const auto trace = f.root().open_group("sim/network/trace");
    CHECK(trace.read("time").dims[0] > 10);  // what was recorded before the blow-up
    CHECK(trace.read("x").dims[0] == trace.read("time").dims[0]);
}

TEST_CASE("every example config and the built-in demo are valid", "[cli]") {
    for (const char* name :
         {"demo.toml", "network_grid.toml", "network_focal_line.toml", "network_coords.toml", "calcium_1hz.toml"}) {
        const Result r = run(std::string("simulate --check ") + RMAAT_SOURCE_DIR + "/examples/" + name);
        INFO(name << ": " << r.output);
        CHECK(r.code == 0);
        CHECK_THAT(r.output, ContainsSubstring("config is valid"));
    }
    CHECK(run("simulate --check --demo").code == 0);
}

TEST_CASE("a coordinate-file geometry runs on the sparse fast path", "[cli]") {
    const std::string out = dir + "/coords.h5";
    const Result r = run(std::string("simulate ") + RMAAT_SOURCE_DIR + "/examples/network_coords.toml -o " + out +
                         " --force --no-progress");
    INFO(r.output);
    REQUIRE(r.code == 0);
    rmaat::h5::File f = rmaat::h5::File::open_read(out);
    const auto g = f.root().open_group("sim/network");
    CHECK(g.attr_string("coupling_method") == "sparse");
    CHECK(g.read("positions").data[1 * 2 + 1] == 1.1);  // second synapse, y
    CHECK(g.open_group("summary").read("coupling_measured_rel_error").data[0] < 1e-5);
}

TEST_CASE("exit codes follow the two error roots: 2 for bad input, 1 for a failed run", "[cli][errors]") {
    const std::string cfg = write_file("roots.toml", kSmallNetwork);
    const std::string out = dir + "/roots.h5";
    std::remove(out.c_str());
    REQUIRE(run("simulate " + cfg + " -o " + out + " --no-progress").code == 0);
    SECTION("an output that exists, without --force, is bad input") {
        const Result r = run("simulate " + cfg + " -o " + out + " --no-progress");
        INFO(r.output);
        CHECK(r.code == 2);
        CHECK_THAT(r.output, ContainsSubstring("exists; pass --force"));
    }
    SECTION("a calibration input that is not an HDF5 file is bad input, named") {
        const std::string junk = write_file("not_a_run.h5", "this is not HDF5\n");
        const std::string c = write_file(
            "calib_junk.toml", "[calibration]\nT_max = 4\n[calibration.inputs]\nltp_run = \"" + junk + "\"\n");
        const Result r = run("calibrate " + c + " -o " + dir + "/calib_junk.h5 --force --no-progress");
        INFO(r.output);
        CHECK(r.code == 2);
        CHECK_THAT(r.output, ContainsSubstring("not_a_run.h5"));
    }
    SECTION("a run file of the wrong kind as a calibration input is bad input") {
        const std::string c = write_file("calib_wrong.toml",
                                         "[calibration]\nT_max = 4\n[calibration.inputs]\n"
                                         "spatial_run = \"" +
                                             out + "\"\n");
        const Result r = run("calibrate " + c + " -o " + dir + "/calib_wrong.h5 --force --no-progress");
        INFO(r.output);
        CHECK(r.code == 2);
        CHECK_THAT(r.output, ContainsSubstring("roots.h5"));
    }
    SECTION("an output directory that cannot be created is bad input") {
        // A simulation-only config: the built-in demo also trains, which a build without LibTorch refuses first.
        const Result r = run("pipeline " + write_file("pipe_dir.toml", kSmallNetwork) +
                             " -o /proc/rmaat-cannot-create --no-progress");
        INFO(r.output);
        CHECK(r.code == 2);
        CHECK_THAT(r.output, ContainsSubstring("cannot create directory"));
    }
}

TEST_CASE("a run killed with SIGKILL leaves a working file whose every dataset h5py reads in full", "[cli][output]") {
    const std::string cfg = write_file("kill.toml", kLongCalcium);
    const std::string out = dir + "/killed.h5";
    int caught = 0;
    for (int delay_ms : {0, 10, 30, 60, 100, 150, 250, 400}) {
        remove_outputs(out);
        const pid_t pid = start({"simulate", cfg, "-o", out, "--no-progress"}, dir + "/kill.log");
        if (!wait_for_partial(pid, out, true)) continue;
        std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
        if (exists(out)) continue;  // finished before the kill
        const auto found = partials(out);
        REQUIRE(found.size() == 1);
        ++caught;
        const Result r = read_all_with_h5py(found[0]);
        INFO("killed " << delay_ms << " ms after the working file appeared: " << r.output);
        CHECK(r.code == 0);
        CHECK_THAT(r.output, ContainsSubstring("ok "));
    }
    CHECK(caught > 0);
    remove_outputs(out);
}

TEST_CASE("SIGTERM and SIGINT stop a run at a safe point: status interrupted, file kept and named, exit 143/130",
          "[cli][output]") {
    const std::string cfg = write_file("term.toml", kLongCalcium);
    const std::string out = dir + "/interrupted.h5";
    for (const auto& [sig, code, name] : {std::tuple{SIGTERM, 143, "SIGTERM"}, std::tuple{SIGINT, 130, "SIGINT"}}) {
        remove_outputs(out);
        const std::string log = dir + "/term.log";
        const pid_t pid = start({"simulate", cfg, "-o", out, "--no-progress"}, log);
        REQUIRE(wait_for_partial(pid, out));
        kill(pid, sig);
        int status = 0;
        waitpid(pid, &status, 0);
        const std::string text = read_text(log);
        INFO(text);
        REQUIRE(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) == code);
        const auto found = partials(out);
        REQUIRE(found.size() == 1);
        CHECK_THAT(text, ContainsSubstring(std::string("interrupted by ") + name) && ContainsSubstring(found[0]) &&
                             ContainsSubstring("status \"interrupted\""));
        CHECK_FALSE(exists(out));
        rmaat::h5::File f = rmaat::h5::File::open_read(found[0]);
        CHECK(f.root().attr_string("status") == "interrupted");
        CHECK(f.root().open_group("sim/calcium").attr_string("status") == "interrupted");
        const Result r = read_all_with_h5py(found[0]);
        INFO(r.output);
        CHECK(r.code == 0);
    }
    remove_outputs(out);
}

TEST_CASE("a write error (file size limit, as a full disk): the file and reason named, exit 1, no file left",
          "[cli][output]") {
    const std::string cfg = write_file("fsize.toml", kLongCalcium);
    const std::string out = dir + "/fsize.h5";
    remove_outputs(out);
    // ulimit -f counts 1 kB blocks; rmaat ignores SIGXFSZ, so the write fails with EFBIG.
    const Result r =
        shell("ulimit -f 200; " + std::string(RMAAT_CLI) + " simulate " + cfg + " -o " + out + " --no-progress");
    INFO(r.output);
    CHECK(r.code == 1);
    CHECK_THAT(r.output, ContainsSubstring("fsize.h5.partial.") && ContainsSubstring("File too large"));
    CHECK_FALSE(exists(out));
    CHECK(partials(out).empty());
}

TEST_CASE("two runs writing one output: one wins, the other fails cleanly without touching it", "[cli][output]") {
    const std::string cfg = write_file("race.toml", kLongCalcium);
    const std::string out = dir + "/race.h5";
    remove_outputs(out);
    const pid_t a = start({"simulate", cfg, "-o", out, "--no-progress"}, dir + "/race_a.log");
    REQUIRE(wait_for_partial(a, out));
    const pid_t b = start({"simulate", cfg, "-o", out, "--no-progress"}, dir + "/race_b.log");
    int sa = 0, sb = 0;
    waitpid(a, &sa, 0);
    waitpid(b, &sb, 0);
    const std::string la = read_text(dir + "/race_a.log"), lb = read_text(dir + "/race_b.log");
    INFO("a: " << la << "\nb: " << lb);
    REQUIRE(WIFEXITED(sa));
    REQUIRE(WIFEXITED(sb));
    const int ca = WEXITSTATUS(sa), cb = WEXITSTATUS(sb);
    CHECK(((ca == 0 && cb == 2) || (ca == 2 && cb == 0)));
    const std::string& loser = ca == 0 ? lb : la;
    CHECK_THAT(loser, ContainsSubstring("exists; pass --force") || ContainsSubstring("appeared while this run wrote"));
    rmaat::h5::File f = rmaat::h5::File::open_read(out);
    CHECK(f.root().attr_string("status") == "complete");
    const Result r = read_all_with_h5py(out);
    INFO(r.output);
    CHECK(r.code == 0);
    remove_outputs(out);
}

TEST_CASE("a damaged run file: inspect names it and exits 2", "[cli][errors]") {
    const std::string cfg = write_file("damage.toml", kSmallNetwork);
    const std::string good = dir + "/damage_src.h5";
    remove_outputs(good);
    REQUIRE(run("simulate " + cfg + " -o " + good + " --no-progress").code == 0);
    const std::string text = read_text(good);
    SECTION("truncated") {
        const std::string bad = write_file("truncated.h5", text.substr(0, text.size() / 2));
        const Result r = run("inspect " + bad);
        INFO(r.output);
        CHECK(r.code == 2);
        CHECK_THAT(error_line(r.output), ContainsSubstring("truncated.h5") && ContainsSubstring("truncated file"));
    }
    SECTION("object headers overwritten") {
        // The object header of /sim/network/trace, found with h5py, overwritten with garbage.
        const Result addr = shell("/usr/bin/python3 -c \"import h5py; f = h5py.File('" + good +
                                  "', 'r'); print(h5py.h5o.get_info(f['sim/network/trace'].id).addr)\"");
        REQUIRE(addr.code == 0);
        const size_t at = std::stoul(addr.output);
        std::string damaged = text;
        for (size_t i = at; i < at + 64 && i < damaged.size(); ++i) damaged[i] = char(0xA5 ^ i);
        const std::string bad = write_file("corrupted.h5", damaged);
        const Result r = run("inspect " + bad);
        INFO(r.output);
        CHECK(r.code == 2);
        CHECK_THAT(error_line(r.output), ContainsSubstring("corrupted.h5: the file is damaged: could not visit every "
                                                           "object below /"));
    }
}

TEST_CASE("calibrate refuses an existing summary without --force, like the calibration file", "[cli][errors]") {
    const std::string out = dir + "/calib_summary.h5";
    remove_outputs(out);
    const std::string summary = write_file("calib_summary.summary.txt", "an earlier summary\n");
    const Result r = run("calibrate --demo -o " + out + " --no-progress");
    INFO(r.output);
    CHECK(r.code == 2);
    CHECK_THAT(r.output, ContainsSubstring("'" + summary + "' exists; pass --force"));
    CHECK(read_text(summary) == "an earlier summary\n");
    CHECK_FALSE(exists(out));
}

TEST_CASE("inspect reads h5py's variable-length strings and reports attributes it cannot read", "[cli]") {
    const std::string path = dir + "/foreign.h5";
    const Result made = shell("/usr/bin/python3 -c \"import h5py, numpy as np\nwith h5py.File('" + path +
                              "', 'w') as f:\n    f.attrs['status'] = 'complete'\n    f.attrs['tool'] = "
                              "np.arange(2000.0)\n    f['x'] = np.arange(3.0)\n    f['x'].attrs['units'] = 'uM'\"");
    INFO(made.output);
    REQUIRE(made.code == 0);
    const Result r = run("inspect " + path);
    INFO(r.output);
    CHECK(r.code == 0);
    CHECK_THAT(r.output, ContainsSubstring("status: complete") && ContainsSubstring("x [3] uM") &&
                             ContainsSubstring("tool: (unreadable: ") &&
                             ContainsSubstring("attribute 'tool' holds 2000 elements of floating-point number"));
}

TEST_CASE("hostile configs are bad input: deep nesting, quoted dotted keys, inf, runs that cannot finish",
          "[cli][errors]") {
    const std::string out = dir + "/hostile.h5";
    std::remove(out.c_str());
    auto check = [&](const std::string& name, const std::string& text, const std::string& message,
                     const std::string& flags = "--check") {
        const std::string cfg = write_file(name, text);
        const Result r = run("simulate " + cfg + " -o " + out + " " + flags + " --no-progress");
        INFO(name << ": " << r.output);
        CHECK(r.code == 2);
        CHECK_THAT(r.output, ContainsSubstring(message));
        CHECK_FALSE(exists(out));
        CHECK(partials(out).empty());
    };
    std::string deep = "[a";
    for (int i = 0; i < 40000; ++i) deep += ".a";
    check("deep.toml", deep + "]\nx = 1\n", "deep.toml:1: tables, keys and arrays nested more than 64 levels deep");
    check("quoted.toml", "[network]\n\"params.tau_n\" = -5.0\n",
          "quoted.toml:2: unknown key \"params.tau_n\" in [network]");
    // Once validated only in run_calcium, after the run file was created: an internal error, exit 1.
    check("ca_inf.toml", "[calcium.params]\nK_P = inf\n", "ca_inf.toml:2: calcium.params.K_P: value inf out of range",
          "--force");
    check("rate.toml", "[calcium.input]\nrate_hz = 1e300\n", "rate.toml:2: calcium.input.rate_hz: the run would take");
    check("rk4.toml", "[network.integrator]\nmethod = \"rk4\"\ndt_s = 1e-19\n",
          "rk4.toml:3: network.integrator.dt_s: the run would take 3.2e+21 rk4 steps");
    // Over the soft limit: refused, unless --allow-large (then a warning).
    const std::string big = "[network]\nrecord_dt_s = 1e-7\n";
    check("big.toml", big, "or pass --allow-large");
    const Result allowed = run("simulate " + write_file("big.toml", big) + " --check --allow-large --no-progress");
    INFO(allowed.output);
    CHECK(allowed.code == 0);
    CHECK_THAT(allowed.output,
               ContainsSubstring("warning: network.record_dt_s: the run would take 3.2e+09 trace rows") &&
                   ContainsSubstring("allowed by --allow-large"));
    // Not a regular file.
    const Result dev = run("simulate /dev/zero --check");
    CHECK(dev.code == 2);
    CHECK_THAT(dev.output, ContainsSubstring("/dev/zero: config file must be a regular file"));
    for (const char* sub : {"simulate", "calibrate", "pipeline"})
        CHECK_THAT(run(std::string(sub) + " --help").output, ContainsSubstring("--allow-large"));
}

TEST_CASE("pipeline checks every stage and every output before it runs, and overwrites only with --force",
          "[cli][errors]") {
    const std::string out = dir + "/pipe";
    shell("rm -rf " + out);
    SECTION("a typo in [calibration] fails before the simulation") {
        const std::string cfg =
            write_file("pipe_typo.toml", std::string(kSmallNetwork) + "[calibration]\nT_max = 4\nrates = [1.0]\n");
        const Result r = run("pipeline " + cfg + " -o " + out + " --no-progress");
        INFO(r.output);
        CHECK(r.code == 2);
        CHECK_THAT(r.output, ContainsSubstring("pipe_typo.toml:9: unknown key 'calibration.rates'"));
        CHECK_FALSE(exists(out + "/sim.h5"));
    }
    SECTION("existing outputs: refused without --force, replaced with it") {
        const std::string cfg = write_file("pipe_sim.toml", kSmallNetwork);
        REQUIRE(run("pipeline " + cfg + " -o " + out + " --no-progress").code == 0);
        REQUIRE(exists(out + "/sim.h5"));
        const Result again = run("pipeline " + cfg + " -o " + out + " --no-progress");
        INFO(again.output);
        CHECK(again.code == 2);
        CHECK_THAT(again.output, ContainsSubstring(out + "/sim.h5' exists; pass --force"));
        const Result forced = run("pipeline " + cfg + " -o " + out + " --force --no-progress");
        INFO(forced.output);
        CHECK(forced.code == 0);
    }
    SECTION("an output that cannot be written fails before the simulation, even with --force") {
        const std::string cfg = write_file("pipe_both.toml", std::string(kSmallNetwork) + "[calibration]\nT_max = 4\n");
        shell("mkdir -p " + out + "/calib.h5");
        const Result r = run("pipeline " + cfg + " -o " + out + " --force --no-progress");
        INFO(r.output);
        CHECK(r.code == 2);
        CHECK_THAT(r.output, ContainsSubstring(out + "/calib.h5' exists and is not a regular file (a directory)"));
        CHECK_FALSE(exists(out + "/sim.h5"));
    }
}

TEST_CASE("a failed run exits 1 with a message: a calibration's own simulation, running out of memory",
          "[cli][errors]") {
    SECTION("a calibration whose LTP simulation blows up names it") {
        const std::string cfg = write_file("calib_nan.toml", R"([calibration]
T_max = 4
[calibration.ltp]
cycles = 4
[calibration.ltp.params]
gamma_s = 0.1
[calibration.ltp.nonlinearity]
Psi = "relu"
Psi_gain = 50.0
K = "relu"
K_gain = 50.0
)");
        const Result r = run("calibrate " + cfg + " -o " + dir + "/calib_nan.h5 --force --no-progress");
        INFO(r.output);
        CHECK(r.code == 1);
        CHECK_THAT(r.output, ContainsSubstring("run failed: calibration simulation 'ltp' ([calibration.ltp]) failed: "
                                               "non-finite state at t = "));
        CHECK_FALSE(exists(dir + "/calib_nan.h5"));
    }
    SECTION("out of memory says what ran out and what to reduce") {
        if (kAddressSanitizer) {
            WARN("skipped: ulimit -v cannot apply under AddressSanitizer (shadow memory)");
            return;
        }
        // A dense kernel of 16384 synapses (2.1 GB) under an address-space limit well below it.
        const std::string cfg = write_file("oom.toml", R"([network]
n_pre = 128
n_post = 128
cycles = 1
[network.coupling]
path = "dense"
)");
        const std::string out = dir + "/oom.h5";
        std::remove(out.c_str());
        const Result r = shell("ulimit -v " + std::to_string(kOomAddressSpaceKiB) + "; " + RMAAT_CLI + " simulate " +
                               cfg + " -o " + out + " --force --no-progress");
        INFO(r.output);
        CHECK(r.code == 1);
        CHECK_THAT(r.output, ContainsSubstring("run failed: network model: out of memory; the network of 16384 "
                                               "synapses holds its state, a dense n_syn x n_syn coupling kernel") &&
                                 ContainsSubstring("use coupling.path = \"fast\""));
        CHECK_THAT(r.output, !ContainsSubstring("std::bad_alloc"));
        REQUIRE(exists(out));
        rmaat::h5::File f = rmaat::h5::File::open_read(out);
        CHECK(f.root().attr_string("status") == "failed: out of memory");
    }
}

TEST_CASE("bench layers exists exactly in a build with LibTorch (RMAAT_WITH_TORCH)", "[cli]") {
    const Result r = run("bench --help");
    INFO(r.output);
    CHECK(r.code == 0);
    CHECK_THAT(r.output, ContainsSubstring("sim"));
    CHECK((r.output.find("layers") != std::string::npos) == bool(RMAAT_WITH_TORCH));
}
