// Calibration end to end: simulate -> fit -> /calibration, recompute from the stored traces,
// calibrate from run files, the reader API with its fall-back, and bad input.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>

#include <fmt/format.h>

#include "calibration/calibration.hpp"
#include "calibration/calibration_reader.hpp"
#include "core/h5_store.hpp"
#include "core/sha256.hpp"
#include "macro_model/retention.hpp"
#include "sim/models.hpp"
#include "sim/simulate.hpp"
#include "tests/catch.hpp"
#include "tests/cli_run.hpp"

using namespace rmaat;

namespace {

const std::string dir = RMAAT_BINARY_DIR;

bool exists(const std::string& p) {
    struct stat st {};
    return stat(p.c_str(), &st) == 0;
}

// A quick calibration: the default experiments, a short calcium sweep.
const char* kQuick = R"([calibration]
T_max = 32
rates_hz = [1.0, 2.0, 5.0, 10.0]
[calibration.ltp]
cycles = 32
)";

std::vector<double> read1(const h5::Group& g, const std::string& name) {
    return g.read(name).data;
}

using CliResult = rmaat::testing::Result;
constexpr auto run_shell = rmaat::testing::shell;
constexpr auto run_cli = rmaat::testing::run;

std::string write_text(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
    return path;
}

// A short calcium run file (statistics over [10, 40] s unless told otherwise) at `rate` Hz (0: rest).
std::string calcium_run(const std::string& name, int rate, const std::string& extra = "", double duration = 40.0,
                        double window_start = 10.0) {
    const std::string path = dir + "/" + name + ".h5";
    const std::string toml = fmt::format(
        "[calcium]\nduration_s = {:.1f}\nstats_window_s = [{:.1f}, 40.0]\n{}[calcium.input]\nspikes = \"{}\"\n"
        "rate_hz = {}.0\n",
        duration, window_start, extra, rate == 0 ? "none" : "regular", rate);
    sim::simulate_to_file(Config::from_string(toml, name + ".toml"), "", path, false);
    return path;
}

// Collects what is written to stderr (the log) while it lives.
class StderrCapture {
public:
    StderrCapture() : path_(dir + "/stderr_capture.txt") {
        std::fflush(stderr);
        saved_ = dup(2);
        FILE* f = std::fopen(path_.c_str(), "w");
        dup2(fileno(f), 2);
        std::fclose(f);
    }
    ~StderrCapture() { restore(); }
    std::string text() {
        restore();
        std::ifstream in(path_);
        return std::string(std::istreambuf_iterator<char>(in), {});
    }

private:
    void restore() {
        if (saved_ < 0) return;
        std::fflush(stderr);
        dup2(saved_, 2);
        close(saved_);
        saved_ = -1;
    }
    std::string path_;
    int saved_ = -1;
};

std::string toml_list(const std::vector<std::string>& paths) {
    std::string s;
    for (const auto& p : paths) s += (s.empty() ? "\"" : ", \"") + p + "\"";
    return "[" + s + "]";
}

}  // namespace

TEST_CASE("fall-back macro parameters are the documented ones", "[calibration]") {
    const auto p = rmaat::fallback_macro_parameters(64);
    CHECK(p.alpha == 0.25);
    CHECK(p.scale == 0.1);
    CHECK_FALSE(p.calibrated);
    for (int T = 1; T <= 64; ++T) CHECK_THAT(p.rf.row(T - 1).sum(), WithinAbs(1.0, 1e-12));
    // docs/design.md section 3.1 quotes RF(1..3, T = 16) = 0.088, 0.085, 0.081 for tau_L = 19.5 cycles; the closed form
    // r^(t-1) (1 - r) / (1 - r^T) gives 0.0893 for t = 1 (0.088 would need tau_L = 20.4).
    CHECK_THAT(p.retention(1, 16), WithinAbs(0.0893, 5e-4));
    CHECK_THAT(p.retention(2, 16), WithinAbs(0.085, 5e-4));
    CHECK_THAT(p.retention(3, 16), WithinAbs(0.081, 5e-4));
    CHECK_THROWS_AS(p.retention(17, 16), std::out_of_range);
    CHECK_THROWS_AS(p.retention(1, 65), std::out_of_range);
    CHECK(calib::load_macro_parameters("", 100).T_max() == 100);
}

TEST_CASE("calibrate end to end; the stored table, scale and alpha match a recompute from the stored traces",
          "[calibration]") {
    const std::string out = dir + "/calib_e2e.h5";
    std::remove(out.c_str());
    const Config cfg = Config::from_string(kQuick, "quick.toml");
    const calib::Calibration c = calib::calibrate_to_file(cfg, "", out, false);
    REQUIRE(exists(out));
    CHECK(exists(dir + "/calib_e2e.summary.txt"));

    // The default network: exp1 with tau_L close to 19.5 cycles (docs/design.md section 3.1) fits best or close to it.
    const auto& exp1 = c.ltp_fits.fits.at(0);
    REQUIRE(exp1.model == "exp1");
    CHECK_THAT(exp1.param("tau"), WithinAbs(19.5, 1.0));

    h5::File f = h5::File::open_read(out);
    const h5::Group g = f.root().open_group("calibration");
    // Recompute everything from the simulations stored in the file.
    const std::vector<double> p = read1(g.open_group("sims/ltp/ltp"), "pl_mean");
    REQUIRE(p.size() == 33);
    const auto sel = macro::fit_ltp_models(p, {"exp1", "exp2", "hill"});
    const Eigen::MatrixXd rf = macro::rf_table_from_curve(sel.fits.at(sel.best), 32);
    const h5::Array stored = g.read("rf");
    REQUIRE(stored.dims == std::vector<hsize_t>{32, 32});
    for (int T = 0; T < 32; ++T)
        for (int t = 0; t < 32; ++t) CHECK_THAT(stored.data[T * 32 + t], WithinAbs(rf(T, t), 1e-9));

    const h5::Group sp = g.open_group("sims/spatial");
    const long focus = static_cast<long>(sp.open_group("summary").read("focal_index").data[0]);
    const h5::Array ps = sp.open_group("stp").read("ps"), pos = sp.read("positions");
    std::vector<double> d, y;
    for (long k = 0; k < static_cast<long>(pos.dims[0]); ++k) {
        if (k == focus) continue;
        d.push_back(std::abs(pos.data[2 * k] - pos.data[2 * focus]));  // a line along x, dx = 1 um
        y.push_back(ps.data[k]);
    }
    const auto decay = macro::fit_decay(d, y);
    CHECK_THAT(read1(g, "scale")[0], WithinRel(1.0 / decay.param("lambda"), 1e-8));

    std::vector<double> rates, ca;
    double rest = NAN;
    for (const char* r : {"0", "1", "2", "5", "10"}) {
        const h5::Group s = g.open_group(std::string("sims/calcium_") + r + "Hz/summary");
        const double rate = s.read("rate_hz").data[0], m = s.read("mean_ca").data[0];
        if (rate == 0) {
            rest = m;
        } else {
            rates.push_back(rate);
            ca.push_back(m);
        }
    }
    // Reference steady means (docs/design.md section 3.2): rest 0.0298 uM, 10 Hz 0.5968 uM.
    CHECK_THAT(rest, WithinAbs(0.0298, 1e-4));
    const auto power = macro::fit_power(rates, ca, rest);
    CHECK_THAT(read1(g, "alpha")[0], WithinRel(power.param("alpha"), 1e-8));
    CHECK(g.attr_string("alpha_source") == "fit");
    CHECK_THAT(g.attr_string("summary"), ContainsSubstring("alpha"));

    // Self-describing (docs/design.md section 4): the RF table's axes, a unit on every fitted parameter ...
    for (const auto& [key, text] : std::vector<std::pair<std::string, std::string>>{
             {"row_index", "T - 1"}, {"column_index", "t - 1"}, {"valid", "t <= T"}, {"rows", "sums to 1"}})
        CHECK_THAT(g.dataset_attr_string("rf", key), ContainsSubstring(text));
    for (int T = 1; T <= 32; ++T) {
        double sum = 0;
        for (int t = 1; t <= 32; ++t) sum += stored.data[(T - 1) * 32 + (t - 1)];
        CHECK_THAT(sum, WithinAbs(1.0, 1e-12));
        if (T < 32) CHECK(stored.data[(T - 1) * 32 + T] == 0.0);  // t = T + 1 is beyond the row
    }
    for (const char* fit : {"ltp/fits/exp1", "ltp/fits/exp2", "ltp/fits/hill", "spatial/fit", "calcium/fit"}) {
        const h5::Group fg = g.open_group(fit);
        const h5::Group params = fg.open_group("parameters");
        std::string names = fg.attr_string("names") + ",";
        for (size_t at = 0, comma; (comma = names.find(',', at)) != std::string::npos; at = comma + 1) {
            const std::string name = names.substr(at, comma - at);
            INFO(fit << " " << name);
            CHECK_FALSE(params.units(name).empty());
            CHECK_THAT(params.dataset_attr_string(name, "fixed"), ContainsSubstring(name == "c0" ? "yes" : "no"));
            CHECK(std::isfinite(params.read(name).data.at(0)));
        }
    }
    CHECK(g.open_group("ltp/fits/exp1/parameters").units("tau") == "cycles");
    CHECK(g.open_group("ltp/fits/exp1/parameters").units("p_sat") == "1");
    CHECK(g.open_group("spatial/fit/parameters").units("lambda") == "dx");
    CHECK(g.open_group("calcium/fit/parameters").units("a") == "uM Hz^-alpha");
    CHECK(g.open_group("calcium/fit/parameters").units("c0") == "uM");
    CHECK(g.open_group("ltp/fits/exp1").units("params") == "1,cycles");  // in the order of `names`
    const CliResult dump = run_shell("h5dump -A " + out);
    CHECK(dump.code == 0);
    CHECK_THAT(dump.output, !ContainsSubstring("see names"));
    // ... and the simulations it ran, each with its config and seed: the stored config reruns it exactly.
    const h5::Group in = g.open_group("inputs");
    for (const char* name :
         {"ltp", "spatial", "calcium_0Hz", "calcium_1Hz", "calcium_2Hz", "calcium_5Hz", "calcium_10Hz"}) {
        INFO(name);
        const h5::Group one = in.open_group(name);
        CHECK(one.attr_string("source") == "simulated");
        CHECK(one.attr_double("seed") == 1.0);
        CHECK_FALSE(one.has_attr("sha256"));
    }
    CHECK_THAT(in.open_group("ltp").attr_string("config"), ContainsSubstring("[network]"));
    CHECK_THAT(in.open_group("calcium_0Hz").attr_string("config"), ContainsSubstring("spikes = 'none'"));
    auto rerun = [&](const std::string& name) {
        const std::string path = dir + "/calib_rerun_" + name + ".h5";
        sim::simulate_to_file(Config::from_string(in.open_group(name).attr_string("config"), name + ".toml"), "", path,
                              false);
        return path;
    };
    {
        h5::File f0 = h5::File::open_read(rerun("calcium_0Hz")), f5 = h5::File::open_read(rerun("calcium_5Hz"));
        CHECK(read1(f0.root().open_group("sim/calcium/summary"), "mean_ca") ==
              read1(g.open_group("sims/calcium_0Hz/summary"), "mean_ca"));
        CHECK(read1(f5.root().open_group("sim/calcium/summary"), "mean_ca") ==
              read1(g.open_group("sims/calcium_5Hz/summary"), "mean_ca"));
        h5::File fl = h5::File::open_read(rerun("ltp"));
        CHECK(read1(fl.root().open_group("sim/network/ltp"), "pl_mean") == p);
    }

    // The reader API gives the same numbers.
    const auto mp = calib::read_calibration(out, 16);
    CHECK(mp.calibrated);
    CHECK(mp.T_max() == 32);
    CHECK_THAT(mp.retention(3, 16), WithinAbs(rf(15, 2), 1e-12));
    CHECK(mp.alpha == read1(g, "alpha")[0]);
}

TEST_CASE("calibrating from run files gives what simulating gives", "[calibration]") {
    // The three experiments as ordinary `rmaat simulate` runs.
    auto simulate = [](const std::string& toml, const std::string& path) {
        sim::simulate_to_file(Config::from_string(toml, "run.toml"), "", path, false);
    };
    simulate("[network]\ncycles = 32\n", dir + "/cal_ltp.h5");
    simulate(
        "[network]\nn_pre = 1\nn_post = 33\ncycles = 1\n[network.geometry]\nkind = \"line\"\n"
        "[network.protocol]\nkind = \"focal\"\n",
        dir + "/cal_spatial.h5");
    const std::vector<std::string> rates{"0", "1", "2", "5", "10"};
    std::string runs;
    for (const auto& r : rates) {
        const std::string spikes = r == "0" ? "none" : "regular";
        simulate("[calcium.input]\nspikes = \"" + spikes + "\"\nrate_hz = " + r + ".0\n", dir + "/cal_ca" + r + ".h5");
        runs += (runs.empty() ? "\"" : ", \"") + dir + "/cal_ca" + r + ".h5\"";
    }
    const std::string toml = std::string(kQuick) + "[calibration.inputs]\nltp_run = \"" + dir + "/cal_ltp.h5\"\n" +
                             "spatial_run = \"" + dir + "/cal_spatial.h5\"\ncalcium_runs = [" + runs + "]\n";
    const calib::Calibration from_runs =
        calib::calibrate_to_file(Config::from_string(toml, "inputs.toml"), "", dir + "/calib_runs.h5", false);
    const calib::Calibration simulated =
        calib::calibrate_to_file(Config::from_string(kQuick, "quick.toml"), "", dir + "/calib_sim.h5", false);
    CHECK((from_runs.rf - simulated.rf).cwiseAbs().maxCoeff() < 1e-12);
    CHECK_THAT(from_runs.scale, WithinRel(simulated.scale, 1e-12));
    CHECK_THAT(from_runs.alpha, WithinRel(simulated.alpha, 1e-12));
    // Every input file is recorded with its path, SHA-256, config and provenance.
    h5::File f = h5::File::open_read(dir + "/calib_runs.h5");
    const h5::Group in = f.root().open_group("calibration/inputs");
    std::vector<std::pair<std::string, std::string>> inputs = {{"ltp", dir + "/cal_ltp.h5"},
                                                               {"spatial", dir + "/cal_spatial.h5"}};
    for (const auto& r : rates) inputs.emplace_back("calcium_" + r + "Hz", dir + "/cal_ca" + r + ".h5");
    for (const auto& [name, path] : inputs) {
        INFO(name);
        const h5::Group one = in.open_group(name);
        CHECK(one.attr_string("source") == "file");
        CHECK(one.attr_string("path") == path);
        CHECK(one.attr_string("sha256") == sha256_file(path));
        h5::File run = h5::File::open_read(path);
        CHECK(one.attr_string("config") == run.root().attr_string("config"));
        CHECK(one.attr_double("seed") == run.root().attr_double("seed"));
        CHECK(one.attr_string("git_commit") == run.root().attr_string("git_commit"));
        CHECK(one.attr_string("created_utc") == run.root().attr_string("created_utc"));
    }
}

TEST_CASE("bad calibration input: clear errors, no calibration file left behind", "[calibration][errors]") {
    const std::string out = dir + "/calib_bad.h5";
    auto expect_error = [&](const std::string& toml, const std::string& message) {
        std::remove(out.c_str());
        try {
            calib::calibrate_to_file(Config::from_string(toml, "bad.toml"), "", out, false);
            FAIL("expected an error");
        } catch (const std::exception& e) {
            INFO(e.what());
            CHECK_THAT(std::string(e.what()), ContainsSubstring(message));
        }
        CHECK_FALSE(exists(out));
        CHECK_FALSE(exists(out + ".partial"));
    };
    SECTION("a run file without the needed traces") {
        sim::simulate_to_file(Config::from_string("[calcium]\nduration_s = 10.0\n", "ca.toml"), "",
                              dir + "/cal_only_ca.h5", false);
        expect_error(std::string(kQuick) + "[calibration.inputs]\nltp_run = \"" + dir + "/cal_only_ca.h5\"\n",
                     "cal_only_ca.h5: no /sim/network/ltp (not a network run file)");
        expect_error(std::string(kQuick) + "[calibration.inputs]\ncalcium_runs = [\"" + dir + "/cal_only_ca.h5\"]\n",
                     "no steady mean Ca");
    }
    SECTION("a flat LTP curve") {
        expect_error(
            std::string(kQuick) + "[calibration.ltp.protocol]\namplitude = 0.0\n[calibration.ltp.params]\nb = 0.0\n",
            "flat");
    }
    SECTION("an LTP curve shorter than T_max") {
        expect_error("[calibration]\nT_max = 40\n[calibration.ltp]\ncycles = 32\n",
                     "32 cycles cannot give an LTP curve of T_max = 40");
    }
    SECTION("a fit that does not converge") {
        expect_error("[calibration]\nT_max = 32\nmax_iterations = 1\n[calibration.ltp]\ncycles = 32\n", "converge");
    }
}

TEST_CASE("reading a calibration: not a calibration, or a table too short", "[calibration][errors]") {
    const std::string sim_run = dir + "/cal_not_calib.h5";
    sim::simulate_to_file(Config::from_string("[network]\ncycles = 2\n", "n.toml"), "", sim_run, false);
    CHECK_THROWS_WITH(calib::read_calibration(sim_run, 4), ContainsSubstring("not a calibration file"));
    CHECK_THROWS_WITH(calib::read_calibration(dir + "/does-not-exist.h5", 4), ContainsSubstring("does-not-exist.h5"));
    const std::string out = dir + "/calib_short.h5";
    std::remove(out.c_str());
    calib::calibrate_to_file(Config::from_string("[calibration]\nT_max = 8\nrates_hz = [2.0, 5.0, 10.0]\n", "s.toml"),
                             "", out, false);
    CHECK_NOTHROW(calib::read_calibration(out, 8));
    CHECK_THROWS_WITH(calib::read_calibration(out, 16), ContainsSubstring("covers T <= 8 segments, but 16 are needed"));
}

TEST_CASE("SHA-256 gives the FIPS 180-2 digests", "[calibration][core]") {
    CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==  // the 448-bit message
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const std::string million(1000000, 'a');
    CHECK(sha256_hex(million) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    // Fed in uneven pieces (partial blocks, block boundaries, the 55/56/64-byte padding edges) and from a file.
    Sha256 h;
    for (size_t at = 0, n = 1; at < million.size(); at += n, n = n % 131 + 1)
        h.update(million.data() + at, std::min(n, million.size() - at));
    CHECK(h.hex_digest() == sha256_hex(million));
    for (size_t len : {55, 56, 63, 64, 65}) {
        const std::string s(len, 'x');
        Sha256 a;
        a.update(s.substr(0, 1));
        a.update(s.substr(1));
        CHECK(a.hex_digest() == sha256_hex(s));
    }
    const std::string path = dir + "/sha_million.txt";
    {
        std::FILE* f = std::fopen(path.c_str(), "wb");
        REQUIRE(f);
        std::fwrite(million.data(), 1, million.size(), f);
        std::fclose(f);
    }
    CHECK(sha256_file(path) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    CHECK_THROWS_WITH(sha256_file(dir + "/no-such-file"), ContainsSubstring("no-such-file: cannot open"));
}

TEST_CASE("sim models come from one table: parsing, config validation, help and running", "[calibration][sim]") {
    CHECK(sim::kSimModels.names() == std::vector<std::string>{"network", "calcium"});
    CHECK_THAT(sim::kSimModels.help(), ContainsSubstring("network  tripartite plasticity network") &&
                                           ContainsSubstring("calcium  biophysical tripartite synapse"));
    CHECK_THROWS_AS(sim::kSimModels.parse("frog"), InputError);
    CHECK_THROWS_WITH(sim::kSimModels.parse("frog"), "unknown sim model \"frog\" (known: network, calcium)");
    auto check = [](const std::string& toml) {
        sim::simulate_to_file(Config::from_string(toml, "m.toml"), "", "", false, true);
    };
    CHECK_THROWS_WITH(
        check("[run]\nmodels = [\"frog\"]\n"),
        ContainsSubstring("run.models: unknown value \"frog\": expected one of \"network\", \"calcium\""));
    CHECK_THROWS_WITH(check("[run]\nmodels = [\"network\"]\n[calcium]\nduration_s = 1.0\n"),
                      ContainsSubstring("calcium: table given but run.models does not include this model"));
    CHECK_NOTHROW(check("[calcium]\nduration_s = 1.0\n"));
    // A row's reader checks its table and returns the run, ready to go.
    const Config cfg = Config::from_string("[calcium]\nduration_s = 2.0\n", "c.toml");
    const sim::SimRun run = sim::kSimModels.parse("calcium")(cfg.root().section("calcium"), "");
    sim::MemoryRecorder rec;
    run(rec, false);
    CHECK(rec.times("trace").back() == Approx(2.0));
    const Config bad = Config::from_string("[network]\ncycles = -1\n", "n.toml");
    CHECK_THROWS_AS(sim::kSimModels.parse("network")(bad.root().section("network"), ""), ConfigError);
}

TEST_CASE("calcium runs that differ in anything but the input rate, or repeat a rate, are refused",
          "[calibration][errors]") {
    const std::vector<std::string> sweep = {calcium_run("cons_ca0", 0), calcium_run("cons_ca1", 1),
                                            calcium_run("cons_ca2", 2), calcium_run("cons_ca5", 5)};
    const std::string out = dir + "/calib_cons.h5";
    auto calibrate_with = [&](const std::string& extra_run) {
        std::vector<std::string> runs = sweep;
        runs.push_back(extra_run);
        std::remove(out.c_str());
        const std::string toml = std::string(kQuick) + "[calibration.inputs]\ncalcium_runs = " + toml_list(runs) + "\n";
        calib::calibrate_to_file(Config::from_string(toml, "cons.toml"), "", out, false);
    };
    auto refused = [&](const std::string& extra_run, const std::vector<std::string>& message) {
        INFO(extra_run);
        try {
            calibrate_with(extra_run);
            FAIL("expected the inputs to be refused");
        } catch (const InputError& e) {  // bad input: exit 2
            INFO(e.what());
            for (const auto& m : message) CHECK_THAT(std::string(e.what()), ContainsSubstring(m));
        }
        CHECK_FALSE(exists(out));
    };
    refused(calcium_run("cons_param", 3, "[calcium.params]\nO_P = 0.8\n"),
            {"cons_param.h5: calcium.params.O_P = 0.8", "cons_ca0.h5", "0.9", "only in the input rate"});
    refused(calcium_run("cons_duration", 3, "", 45.0), {"cons_duration.h5: calcium.duration_s = 45", "40"});
    refused(calcium_run("cons_window", 3, "", 40.0, 12.0),
            {"cons_window.h5: calcium.stats_window_s = [12, 40]", "[10, 40]"});
    refused(calcium_run("cons_integrator", 3, "[calcium.integrator]\nrel_tol = 1e-8\n"),
            {"cons_integrator.h5: calcium.integrator.rel_tol"});
    refused(calcium_run("cons_repeat", 2), {"cons_ca2.h5", "cons_repeat.h5", "2 Hz"});
    refused(calcium_run("cons_rest", 0), {"cons_ca0.h5", "cons_rest.h5", "0 Hz"});

    // The command line says the same and exits 2 (bad input), without writing the calibration file.
    const std::string cfg = write_text(
        dir + "/cons_cli.toml", std::string(kQuick) + "[calibration.inputs]\ncalcium_runs = " +
                                    toml_list({sweep[0], sweep[1], sweep[2], sweep[3], dir + "/cons_param.h5"}) + "\n");
    const CliResult r = run_cli("calibrate " + cfg + " -o " + out + " --force --no-progress");
    INFO(r.output);
    CHECK(r.code == 2);
    CHECK_THAT(r.output, ContainsSubstring("cons_param.h5: calcium.params.O_P = 0.8"));
    CHECK_FALSE(exists(out));

    // The recording grid is no model setting: runs that differ only there are accepted.
    CHECK_NOTHROW(calibrate_with(calcium_run("cons_grid", 3, "record_dt_s = 0.05\n")));
    CHECK(exists(out));
}

TEST_CASE("fit quality: warnings for poor R^2 and standard errors above the value", "[calibration]") {
    macro::FitResult f;
    f.model = "power";
    f.names = {"c0", "a", "alpha"};
    f.fixed = {true, false, false};
    f.params = Eigen::Vector3d(0.03, 0.1, 0.5);
    f.std_errors = Eigen::Vector3d(0.0, 0.02, 0.1);
    f.converged = true;
    f.r2 = 0.95;
    CHECK(calib::fit_warnings(f, "calcium power-law").empty());
    f.r2 = calib::kPoorR2 - 0.01;
    f.std_errors(2) = 0.6;  // larger than alpha = 0.5
    const auto w = calib::fit_warnings(f, "calcium power-law");
    REQUIRE(w.size() == 2);
    CHECK_THAT(w[0], ContainsSubstring("calcium power-law fit (power): alpha = 0.5 +- 0.6"));
    CHECK_THAT(w[1], ContainsSubstring("R^2 = 0.89 < 0.9"));
    f.r2 = 0.95;
    f.std_errors(1) = NAN;
    f.degenerate = true;
    CHECK_THAT(calib::fit_warnings(f, "calcium power-law").at(0), ContainsSubstring("degenerate"));

    // End to end: a calcium response that a power law describes poorly; an exactly exponential LTP curve,
    // on which exp2 is degenerate.
    calib::CalibrationConfig cfg;
    cfg.T_max = 16;
    calib::Measurements m;
    for (int t = 0; t <= 16; ++t) m.ltp.push_back(0.1 + 0.75 * (1 - std::exp(-t / 19.5)));
    for (int d = 1; d <= 16; ++d) {
        m.distance_dx.push_back(d);
        m.response.push_back(0.8 * std::exp(-d / 2.5));
    }
    m.rates_hz = {1, 2, 3, 5, 7};
    m.mean_ca_uM = {0.30, 0.08, 0.35, 0.10, 0.33};
    m.ca_rest_uM = 0.03;
    StderrCapture log;
    const calib::Calibration c = calib::fit_calibration(cfg, m);
    const std::string logged = log.text();
    INFO(logged);
    REQUIRE_FALSE(c.warnings.empty());
    const std::string summary = calib::summary_text(c);
    INFO(summary);
    for (const auto& warning : c.warnings) {
        CHECK_THAT(logged, ContainsSubstring("warning: calibration: " + warning));
        CHECK_THAT(summary, ContainsSubstring("warning: " + warning));
    }
    CHECK_THAT(summary, ContainsSubstring("calcium power-law fit (power): R^2 = "));
    CHECK(c.power_fit.r2 < calib::kPoorR2);

    // The degenerate exp2 fit is marked as such, not as converged, in the summary and the file.
    REQUIRE(c.ltp_fits.fits.at(1).model == "exp2");
    REQUIRE(c.ltp_fits.fits.at(1).degenerate);
    CHECK_THAT(summary, ContainsSubstring("degenerate"));
    const std::string out = dir + "/calib_warn.h5";
    {
        h5::File created = h5::File::create(out, Replace::yes);
        calib::write_calibration(created.root(), c);
        created.commit();
    }
    h5::File file = h5::File::open_read(out);
    const h5::Group g = file.root().open_group("calibration");
    CHECK(g.open_group("ltp/fits/exp2").attr_string("status") == "degenerate");
    CHECK(g.open_group("ltp/fits/exp2").attr_double("converged") == 0.0);
    CHECK(g.open_group("ltp/fits/exp1").attr_string("status") == "converged");
    CHECK(g.open_group("ltp/fits/exp1").attr_double("converged") == 1.0);
    CHECK_THAT(g.attr_string("warnings"), ContainsSubstring(c.warnings.front()));
}

TEST_CASE("plot_run.py draws the STP map of a grid as an image, without gaps between synapses", "[calibration]") {
    const std::string run = dir + "/plot_grid.h5", out = dir + "/plot_grid_plots";
    sim::simulate_to_file(Config::from_string("[network]\nn_pre = 5\nn_post = 4\ncycles = 1\n", "g.toml"), "", run,
                          false);
    // Records what each saved figure's axes hold: an image is one QuadMesh (pcolormesh) or AxesImage (imshow),
    // the old map was a scatter of squares (a PathCollection) with white gaps between them.
    const std::string py = R"PY(
import sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.figure as mf
import numpy as np
seen = {}
save = mf.Figure.savefig
def record(fig, path, *a, **k):
    ax = fig.axes[0]
    seen[str(path).split("/")[-1]] = [type(c).__name__ for c in ax.collections] + [type(i).__name__ for i in ax.images]
    if ax.collections and type(ax.collections[0]).__name__ == "QuadMesh":
        seen["cells"] = np.asarray(ax.collections[0].get_array()).size
    return save(fig, path, *a, **k)
mf.Figure.savefig = record
sys.path.insert(0, sys.argv[3])
import plot_run
plot_run.main([sys.argv[1], "-o", sys.argv[2]])
print("stp:", seen["network_stp.png"], "cells:", seen.get("cells"))
)PY";
    write_text(dir + "/plot_check.py", py);
    const CliResult r = run_shell("/usr/bin/python3 " + dir + "/plot_check.py " + run + " " + out + " " +
                                  RMAAT_SOURCE_DIR + "/scripts");
    INFO(r.output);
    REQUIRE(r.code == 0);
    CHECK_THAT(r.output, ContainsSubstring("stp: ['QuadMesh']") || ContainsSubstring("stp: ['AxesImage']"));
    CHECK_THAT(r.output, ContainsSubstring("cells: 20"));  // one cell per synapse
    CHECK(exists(out + "/network_stp.png"));
}

namespace {

// Copies `src` to dir/<name>.h5 and applies `edit` (Python, h5py file object `f`, numpy as np) to the copy.
std::string hostile_copy(const std::string& src, const std::string& name, const std::string& edit) {
    const std::string path = dir + "/" + name + ".h5";
    const std::string script = dir + "/" + name + ".py";
    write_text(script, "import shutil, h5py, numpy as np\nshutil.copy('" + src + "', '" + path +
                           "')\nwith h5py.File('" + path + "', 'r+') as f:\n    " + edit + "\n");
    const CliResult r = run_shell("/usr/bin/python3 " + script);
    INFO(r.output);
    REQUIRE(r.code == 0);
    return path;
}

// Replaces dataset `name` of h5py file `f` (Python source).
std::string replace_dataset(const std::string& name, const std::string& value) {
    return "del f['" + name + "']; f['" + name + "'] = " + value;
}

}  // namespace

TEST_CASE("hostile run files: indices, shapes, sizes and values are checked, naming the file and dataset",
          "[calibration][errors]") {
    const std::string out = dir + "/calib_hostile.h5";
    auto refused = [&](const std::string& inputs, const std::vector<std::string>& message) {
        std::remove(out.c_str());
        try {
            calib::calibrate_to_file(
                Config::from_string(
                    "[calibration]\nT_max = 4\nrates_hz = [1.0, 2.0, 5.0]\n[calibration.inputs]\n" + inputs,
                    "hostile.toml"),
                "", out, false);
            FAIL("expected the input to be refused");
        } catch (const h5::Error& e) {  // bad input: exit 2
            INFO(e.what());
            for (const auto& m : message) CHECK_THAT(std::string(e.what()), ContainsSubstring(m));
        }
        CHECK_FALSE(exists(out));
    };
    const std::string spatial = dir + "/hostile_spatial_src.h5";
    sim::simulate_to_file(Config::from_string("[network]\nn_pre = 1\nn_post = 5\ncycles = 1\n[network.geometry]\n"
                                              "kind = \"line\"\n[network.protocol]\nkind = \"focal\"\n",
                                              "s.toml"),
                          "", spatial, false);
    auto spatial_refused = [&](const std::string& name, const std::string& edit, const std::vector<std::string>& msg) {
        INFO(name);
        refused("spatial_run = \"" + hostile_copy(spatial, name, edit) + "\"\n", msg);
    };
    spatial_refused("focal_far", replace_dataset("sim/network/summary/focal_index", "1e9"),
                    {"focal_far.h5: /sim/network/summary/focal_index = 1000000000 is not a synapse index in [0, 4]"});
    spatial_refused("focal_negative", replace_dataset("sim/network/summary/focal_index", "-1.0"),
                    {"focal_negative.h5", "focal_index = -1 is not a synapse index"});
    spatial_refused("focal_fraction", replace_dataset("sim/network/summary/focal_index", "2.5"),
                    {"focal_fraction.h5", "focal_index = 2.5 is not a synapse index"});
    spatial_refused("focal_nan", replace_dataset("sim/network/summary/focal_index", "np.nan"),
                    {"focal_nan.h5", "focal_index = nan is not finite"});
    spatial_refused("focal_array", replace_dataset("sim/network/summary/focal_index", "[1.0, 2.0]"),
                    {"focal_array.h5", "focal_index has shape [2], expected a single value"});
    spatial_refused("positions_wide", replace_dataset("sim/network/positions", "np.zeros((5, 3))"),
                    {"positions_wide.h5: /sim/network/positions has shape [5 x 3], expected [5 x 2]"});
    spatial_refused("positions_short", replace_dataset("sim/network/positions", "np.zeros((4, 2))"),
                    {"positions_short.h5", "positions has shape [4 x 2], expected [5 x 2]"});
    spatial_refused("positions_nan", "f['sim/network/positions'][1, 0] = np.nan",
                    {"positions_nan.h5", "/sim/network/positions[1][0] = nan is not finite"});
    spatial_refused("positions_same", "f['sim/network/positions'][...] = 0.0",
                    {"positions_same.h5", "another synapse lies at the focal synapse"});
    spatial_refused("ps_flat", replace_dataset("sim/network/stp/ps", "np.ones(5)"),
                    {"ps_flat.h5: /sim/network/stp/ps has shape [5] (1 dimension), expected 2 dimensions"});
    spatial_refused("ps_huge", "del f['sim/network/stp/ps']; f.create_dataset('sim/network/stp/ps', shape=(1, 2**31))",
                    {"ps_huge.h5: /sim/network/stp/ps declares shape [1 x 2147483648]"});
    spatial_refused("ps_inf", "f['sim/network/stp/ps'][0, 3] = np.inf",
                    {"ps_inf.h5", "/sim/network/stp/ps[0][3] = inf is not finite"});
    spatial_refused("ps_text", replace_dataset("sim/network/stp/ps", "np.array([[b'a', b'b', b'c']])"),
                    {"ps_text.h5: /sim/network/stp/ps holds 3 elements of string, expected numbers"});
    spatial_refused("seed_text", "f.attrs['seed'] = 'seven'",
                    {"seed_text.h5: /", "attribute 'seed' holds a scalar string, expected one integer"});

    const std::string ltp = dir + "/hostile_ltp_src.h5";
    sim::simulate_to_file(Config::from_string("[network]\ncycles = 4\n", "l.toml"), "", ltp, false);
    auto ltp_refused = [&](const std::string& name, const std::string& edit, const std::vector<std::string>& msg) {
        INFO(name);
        refused("ltp_run = \"" + hostile_copy(ltp, name, edit) + "\"\n", msg);
    };
    ltp_refused("pl_2d", replace_dataset("sim/network/ltp/pl_mean", "np.ones((5, 2))"),
                {"pl_2d.h5: /sim/network/ltp/pl_mean has shape [5 x 2] (2 dimensions), expected 1 dimension"});
    ltp_refused("pl_huge",
                "del f['sim/network/ltp/pl_mean']; f.create_dataset('sim/network/ltp/pl_mean', shape=(2**31,))",
                {"pl_huge.h5: /sim/network/ltp/pl_mean declares shape [2147483648]"});
    ltp_refused("pl_nan", "f['sim/network/ltp/pl_mean'][2] = np.nan",
                {"pl_nan.h5", "/sim/network/ltp/pl_mean[2] = nan is not finite"});

    const std::string ca = calcium_run("hostile_ca_src", 1);
    auto ca_refused = [&](const std::string& name, const std::string& edit, const std::vector<std::string>& msg) {
        INFO(name);
        refused("calcium_runs = [\"" + hostile_copy(ca, name, edit) + "\"]\n", msg);
    };
    ca_refused("rate_negative", replace_dataset("sim/calcium/summary/rate_hz", "-1.0"),
               {"rate_negative.h5: /sim/calcium/summary/rate_hz = -1 must be >= 0"});
    ca_refused("rate_nan", replace_dataset("sim/calcium/summary/rate_hz", "np.nan"),
               {"rate_nan.h5", "rate_hz = nan is not finite"});
    ca_refused("rate_array", replace_dataset("sim/calcium/summary/rate_hz", "np.ones(2000)"),
               {"rate_array.h5", "rate_hz has shape [2000], expected a single value"});
    ca_refused("config_array", "f.attrs['config'] = np.array(['a', 'b'], dtype=h5py.string_dtype())",
               {"config_array.h5: /", "attribute 'config' holds 2 elements of string, expected one string"});
}

TEST_CASE("hostile calibration files: the RF table must be a square 2-D table of capped size",
          "[calibration][errors]") {
    const std::string src = dir + "/hostile_calib_src.h5";
    write_text(dir + "/hostile_calib_src.py", "import h5py, numpy as np\nwith h5py.File('" + src +
                                                  "', 'w') as f:\n    g = f.create_group('calibration')\n"
                                                  "    g.attrs['format'] = 'rmaat-calibration'\n"
                                                  "    g['rf'] = np.tril(np.ones((4, 4))) / np.arange(1, 5)[:, None]\n"
                                                  "    g['scale'] = 0.1\n    g['alpha'] = 0.25\n");
    REQUIRE(run_shell("/usr/bin/python3 " + dir + "/hostile_calib_src.py").code == 0);
    const MacroParameters ok = calib::read_calibration(src, 4);  // h5py's variable-length format attribute reads
    CHECK(ok.alpha == 0.25);
    CHECK_THAT(ok.retention(2, 4), WithinAbs(0.25, 1e-15));
    auto refused = [&](const std::string& name, const std::string& edit, const std::string& message) {
        INFO(name);
        const std::string path = hostile_copy(src, name, edit);
        try {
            calib::read_calibration(path, 4);
            FAIL("expected the calibration to be refused");
        } catch (const calib::CalibrationError& e) {
            INFO(e.what());
            CHECK_THAT(std::string(e.what()), ContainsSubstring(path) && ContainsSubstring(message));
        }
    };
    refused("rf_rect", replace_dataset("calibration/rf", "np.zeros((4, 5))"), "/calibration/rf has shape [4 x 5]");
    refused("rf_3d", replace_dataset("calibration/rf", "np.zeros((4, 4, 4))"),
            "/calibration/rf has shape [4 x 4 x 4] (3 dimensions), expected 2 dimensions");
    refused("rf_huge",
            "del f['calibration/rf']; f.create_dataset('calibration/rf', shape=(2**20, 2**20), chunks=(1, 1))",
            "/calibration/rf declares shape [1048576 x 1048576]");
    refused("rf_nan", "f['calibration/rf'][1, 0] = np.nan", "rf[1][0] = nan is not a retention factor");
    refused("scale_array", replace_dataset("calibration/scale", "[0.1, 0.2]"),
            "/calibration/scale has shape [2], expected a single value");
    refused("alpha_inf", replace_dataset("calibration/alpha", "np.inf"), "/calibration/alpha = inf is not finite");
    refused("format_array",
            "f['calibration'].attrs['format'] = np.array(['rmaat-calibration'] * 2, dtype=h5py.string_dtype())",
            "attribute 'format' holds 2 elements of string, expected one string");
}

TEST_CASE("a calibration checks its whole config, its simulations' costs and the stats window before it runs",
          "[calibration][errors]") {
    const std::string out = dir + "/calib_early.h5";
    auto error_of = [&](const std::string& toml) -> std::string {
        std::remove(out.c_str());
        try {
            calib::check_calibration(Config::from_string(toml, "early.toml"), "");
        } catch (const ConfigError& e) {
            return e.what();
        }
        return "no error";
    };
    // A sweep that ends before its statistics window: a config error with its line, not after the runs.
    CHECK_THAT(error_of(std::string(kQuick) + "[calibration.calcium]\nduration_s = 100.0\n"),
               ContainsSubstring("early.toml:7: calibration.calcium.duration_s: 100 s ends before the statistics "
                                 "window [120, 300] s"));
    CHECK_THAT(error_of("[calibration]\nrates_hz = [1e300, 2.0, 3.0]\n"),
               ContainsSubstring("early.toml:2: calibration.rates_hz: the run would take 3e+302 presynaptic spikes") &&
                   ContainsSubstring("summed over the sweep of 4 runs"));
    CHECK_THAT(error_of("[calibration]\nT_max = 8\n[calibration.ltp]\nrecord_dt_s = 1e-9\n"),
               ContainsSubstring("early.toml:4: calibration.ltp.record_dt_s: the run would take 4e+10 trace rows") &&
                   ContainsSubstring("in [calibration.ltp]"));
    CHECK_THAT(error_of("[calibration.spatial.integrator]\nmethod = \"rk4\"\ndt_s = 1e-19\n"),
               ContainsSubstring("calibration.spatial.integrator.dt_s") && ContainsSubstring("cannot finish"));
    CHECK_THAT(error_of(std::string(kQuick) + "[calibration.calcium.input]\nrate = 3.0\n"),
               ContainsSubstring("unknown key 'calibration.calcium.input.rate'"));
    CHECK(error_of(kQuick) == "no error");
    // calibrate_to_file checks the same before it runs anything.
    try {
        calib::calibrate_to_file(
            Config::from_string(std::string(kQuick) + "[calibration.calcium]\nduration_s = 100.0\n", "early.toml"), "",
            out, false);
        FAIL("expected a ConfigError");
    } catch (const ConfigError& e) {
        CHECK_THAT(std::string(e.what()), ContainsSubstring("early.toml:7:"));
    }
    CHECK_FALSE(exists(out));
}

TEST_CASE("a calibration whose own simulation fails names that simulation", "[calibration][errors]") {
    const std::string toml = R"([calibration]
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
)";
    const std::string out = dir + "/calib_blowup.h5";
    std::remove(out.c_str());
    try {
        calib::calibrate_to_file(Config::from_string(toml, "blowup.toml"), "", out, false);
        FAIL("expected an IntegrationError");
    } catch (const sim::IntegrationError& e) {
        CHECK_THAT(std::string(e.what()), ContainsSubstring("calibration simulation 'ltp' ([calibration.ltp]) failed: "
                                                            "non-finite state at t = ") &&
                                              ContainsSubstring("no calibration file was written"));
        CHECK(e.time_s > 0.0);
    }
    CHECK_FALSE(exists(out));
}
