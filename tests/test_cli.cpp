// The rmaat CLI end to end: help for every subcommand, run files readable without the toolkit
// (h5dump, h5py), and bad input that exits non-zero with a clear message.
#include <sys/stat.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "core/h5_store.hpp"
#include "tests/catch.hpp"

namespace {

struct Result {
    int code;
    std::string output;  // stdout and stderr
};

Result run(const std::string& args) {
    const std::string cmd = std::string(RMAAT_CLI) + " " + args + " 2>&1";
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
    std::string out;
    std::array<char, 4096> buf{};
    while (fgets(buf.data(), buf.size(), pipe.get())) out += buf.data();
    const int status = pclose(pipe.release());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

Result shell(const std::string& cmd) {
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen((cmd + " 2>&1").c_str(), "r"), pclose);
    std::string out;
    std::array<char, 4096> buf{};
    while (fgets(buf.data(), buf.size(), pipe.get())) out += buf.data();
    const int status = pclose(pipe.release());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

const std::string dir = std::string(RMAAT_BINARY_DIR) + "/cli_test";

std::string write_file(const std::string& name, const std::string& text) {
    mkdir(dir.c_str(), 0755);
    const std::string path = dir + "/" + name;
    std::ofstream(path) << text;
    return path;
}

bool exists(const std::string& p) {
    struct stat st {};
    return stat(p.c_str(), &st) == 0;
}

const char* kSmallNetwork = R"([run]
models = ["network"]
[network]
n_pre = 2
n_post = 2
cycles = 2
)";

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
    CHECK_FALSE(exists(out + ".partial"));

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
        const std::string c = write_file("calib_junk.toml", "[calibration]\nT_max = 4\n[calibration.inputs]\nltp_run = \"" +
                                                                junk + "\"\n");
        const Result r = run("calibrate " + c + " -o " + dir + "/calib_junk.h5 --force --no-progress");
        INFO(r.output);
        CHECK(r.code == 2);
        CHECK_THAT(r.output, ContainsSubstring("not_a_run.h5"));
    }
    SECTION("a run file of the wrong kind as a calibration input is bad input") {
        const std::string c = write_file("calib_wrong.toml", "[calibration]\nT_max = 4\n[calibration.inputs]\n"
                                                             "spatial_run = \"" + out + "\"\n");
        const Result r = run("calibrate " + c + " -o " + dir + "/calib_wrong.h5 --force --no-progress");
        INFO(r.output);
        CHECK(r.code == 2);
        CHECK_THAT(r.output, ContainsSubstring("roots.h5"));
    }
    SECTION("an output directory that cannot be created is bad input") {
        const Result r = run("pipeline -o /proc/rmaat-cannot-create --no-progress");
        INFO(r.output);
        CHECK(r.code == 2);
        CHECK_THAT(r.output, ContainsSubstring("cannot create directory"));
    }
}

TEST_CASE("bench layers exists exactly in a build with LibTorch (RMAAT_WITH_TORCH)", "[cli]") {
    const Result r = run("bench --help");
    INFO(r.output);
    CHECK(r.code == 0);
    CHECK_THAT(r.output, ContainsSubstring("sim"));
    CHECK((r.output.find("layers") != std::string::npos) == bool(RMAAT_WITH_TORCH));
}
