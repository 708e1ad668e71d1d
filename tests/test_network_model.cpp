// Network model (docs/design.md section 3.1): hand-checkable 2x2 case, coupling paths, steady states, the LTP curve,
// convergence, protocols and bad input.
#include <sys/stat.h>

#include <cmath>
#include <cstdio>
#include <fstream>

#include "core/config.hpp"
#include "sim/network/network_model.hpp"
#include "sim/simulate.hpp"
#include "tests/catch.hpp"

using namespace rmaat;
using namespace rmaat::sim;

namespace {

NetworkRunConfig small_config(long n_pre, long n_post, long cycles) {
    NetworkRunConfig c;
    c.geometry = Geometry::grid(n_pre, n_post, 1.0);
    c.cycles = cycles;
    c.record_dt_s = 0.5;
    c.record_full = false;
    return c;
}

NetworkRunConfig config_from(const std::string& toml) {
    const Config cfg = Config::from_string(toml, "test.toml");
    NetworkRunConfig c = read_network_config(cfg.section("network"));
    cfg.check_all_used();
    return c;
}

}  // namespace

TEST_CASE("2x2 grid: coupling normalisation by hand", "[network]") {
    // lambda = 2 dx: neighbours at dx weigh a = e^-1/2, the diagonal one at sqrt(2) dx weighs
    // b = e^-sqrt(2)/2. Every row of K holds a, a, b, so the Perron root is 2a + b.
    const Geometry g = Geometry::grid(2, 2, 1.0);
    const Coupling dense(g, 2.0, 0.75, {CouplingOptions::Path::dense});
    const double a = std::exp(-0.5), b = std::exp(-std::sqrt(2.0) / 2.0);
    CHECK_THAT(dense.rho_K(), WithinRel(2 * a + b, 1e-12));
    // T e_0 = w_T / rho * (0, a, a, b): synapse (0,0) couples to (0,1) and (1,0) at a, to (1,1) at b.
    Eigen::VectorXd e0 = Eigen::VectorXd::Zero(4), out(4);
    e0[0] = 1.0;
    dense.apply(e0, out);
    const double c = 0.75 / (2 * a + b);
    CHECK(out[0] == 0.0);
    CHECK_THAT(out[1], WithinRel(c * a, 1e-12));
    CHECK_THAT(out[2], WithinRel(c * a, 1e-12));
    CHECK_THAT(out[3], WithinRel(c * b, 1e-12));
}

TEST_CASE("2x2 grid: right-hand side by hand", "[network]") {
    NetworkParams p;  // defaults, tanh everywhere
    const Geometry g = Geometry::grid(2, 2, 1.0);
    NetworkModel m(p, g, {CouplingOptions::Path::dense});
    State y(2 + 3 * 4);
    // x0 x1 | s00 s01 s10 s11 | ps00 ps01 ps10 ps11 | pl00 pl01 pl10 pl11
    y << 0.1, 0.2, 0.1, 0.2, 0.3, 0.4, 0.05, 0.1, 0.15, 0.2, 0.3, 0.1, 0.2, 0.4;
    Eigen::VectorXd u(2), I = Eigen::VectorXd::Zero(4);
    u << 1.0, 0.0;
    I[3] = 0.5;
    m.set_inputs(u, I);
    State d;
    m.rhs(y, d);

    const double Fu0 = std::tanh(1.0);  // F(u_1) = tanh(0) = 0
    const double s[2][2] = {{0.1, 0.2}, {0.3, 0.4}}, ps[2][2] = {{0.05, 0.1}, {0.15, 0.2}};
    const double pl[2][2] = {{0.3, 0.1}, {0.2, 0.4}}, x[2] = {0.1, 0.2};
    // dx_j = (-x_j + G(s_0j) F(u_0) + b) / tau_n  (the u_1 row contributes F(0) = 0)
    for (int j = 0; j < 2; ++j) CHECK_THAT(d[j], WithinRel((-x[j] + std::tanh(s[0][j]) * Fu0 + 0.5) / 0.01, 1e-12));
    const double a = std::exp(-0.5), b = std::exp(-std::sqrt(2.0) / 2.0), c = 0.75 / (2 * a + b);
    for (int i = 0; i < 2; ++i) {
        for (int j = 0; j < 2; ++j) {
            const int k = 2 * i + j;
            const double Fui = i == 0 ? Fu0 : 0.0, Ik = k == 3 ? 0.5 : 0.0;
            const double ds = (-s[i][j] + Fui * std::tanh(x[j]) + std::tanh(ps[i][j]) + Ik) / 0.1;
            // The other synapses: the two lattice neighbours weigh a, the diagonal one b.
            double coupled = 0.0;
            for (int k2 = 0; k2 < 2; ++k2)
                for (int l2 = 0; l2 < 2; ++l2) {
                    const int dist2 = (i - k2) * (i - k2) + (j - l2) * (j - l2);
                    if (dist2 == 0) continue;
                    coupled += (dist2 == 1 ? a : b) * c * std::tanh(ps[k2][l2]);
                }
            const double dps = (-3.0 * ps[i][j] + coupled + std::tanh(s[i][j])) / 1.0;
            const double dpl = (-0.05 * pl[i][j] + std::tanh(ps[i][j]) * (1 - pl[i][j])) / 20.0;
            CHECK_THAT(d[2 + k], WithinRel(ds, 1e-12));
            CHECK_THAT(d[6 + k], WithinRel(dps, 1e-12));
            CHECK_THAT(d[10 + k], WithinRel(dpl, 1e-12));
        }
    }
    CHECK(m.name_of(0) == "x[0]");
    CHECK(m.name_of(2 + 3) == "s[1,1]");
    CHECK(m.name_of(6 + 1) == "ps[0,1]");
    CHECK(m.name_of(10 + 2) == "pl[1,0]");
}

TEST_CASE("fast coupling equals dense within its measured bound", "[network][coupling]") {
    struct Case {
        Geometry g;
        double lambda;
    };
    std::vector<Case> cases{{Geometry::grid(8, 8, 1.0), 2.0},
                            {Geometry::grid(5, 13, 0.5), 1.0},
                            {Geometry::line(4, 10, 1.0), 2.0},
                            {Geometry::grid(1, 1, 1.0), 2.0}};
    for (const auto& c : cases) {
        const Coupling fast(c.g, c.lambda, 0.75, {CouplingOptions::Path::fast});
        const Coupling dense(c.g, c.lambda, 0.75, {CouplingOptions::Path::dense});
        INFO("geometry " << c.g.lattice_rows() << "x" << c.g.lattice_cols());
        CHECK(std::string(fast.method()) == "fft");
        CHECK_THAT(fast.rho_K(), WithinRel(dense.rho_K(), 1e-10));
        if (c.g.n_syn() > 1) {
            CHECK(fast.measured_rel_error() < 1e-12);
            Eigen::VectorXd v = Eigen::VectorXd::LinSpaced(c.g.n_syn(), -1.0, 2.0), a(v.size()), b(v.size());
            fast.apply(v, a);
            dense.apply(v, b);
            CHECK((a - b).lpNorm<Eigen::Infinity>() <= 1e-12 * b.lpNorm<Eigen::Infinity>());
        }
    }
}

TEST_CASE("sparse coupling on scattered coordinates stays within its a priori bound", "[network][coupling]") {
    // A jittered 6x6 lattice read as a coordinate geometry.
    Geometry g = Geometry::grid(6, 6, 1.0);
    g.kind = Geometry::Kind::file;
    for (long k = 0; k < g.n_syn(); ++k)
        g.positions.row(k) += Eigen::RowVector2d(0.1 * std::sin(k), 0.1 * std::cos(3 * k));
    CouplingOptions opt;
    opt.sparse_cutoff = 0.05;  // coarse on purpose, so something is dropped
    const Coupling fast(g, 2.0, 0.75, opt);
    const Coupling dense(g, 2.0, 0.75, {CouplingOptions::Path::dense});
    CHECK(std::string(fast.method()) == "sparse");
    REQUIRE(fast.a_priori_rel_bound() > 0.0);
    Eigen::VectorXd v = Eigen::VectorXd::Ones(g.n_syn()), a(v.size()), b(v.size());
    fast.apply(v, a);
    dense.apply(v, b);
    // |T_s v - T v| <= (w_T / rho) * dropped * |v| plus the change of rho itself.
    const double err = (a - b).lpNorm<Eigen::Infinity>();
    CHECK(err > 0.0);
    CHECK(err <= 0.75 * fast.a_priori_rel_bound() +
                     std::abs(1 - dense.rho_K() / fast.rho_K()) * b.lpNorm<Eigen::Infinity>() + 1e-12);
    CHECK(fast.measured_rel_error() >= err / b.lpNorm<Eigen::Infinity>() * 0.999);
}

TEST_CASE("a run on the fast path matches the dense path", "[network][coupling]") {
    NetworkRunConfig c = small_config(4, 4, 6);
    c.integrator.rel_tol = 1e-9;
    c.integrator.abs_tol = 1e-11;
    MemoryRecorder rf, rd;
    const auto fast = run_network(c, rf);
    c.coupling.path = CouplingOptions::Path::dense;
    const auto dense = run_network(c, rd);
    for (size_t t = 0; t < fast.ltp.size(); ++t) CHECK_THAT(fast.ltp[t], WithinAbs(dense.ltp[t], 1e-8));
    const Eigen::MatrixXd a = rf.column("stp", "ps"), b = rd.column("stp", "ps");
    CHECK((a - b).cwiseAbs().maxCoeff() < 1e-7);
}

TEST_CASE("steady states: zero without bias or input, fixed point under constant input", "[network]") {
    SECTION("b = 0 and no input: the zero state never moves") {
        NetworkRunConfig c = small_config(3, 3, 2);
        c.params.b = 0.0;
        c.protocol.amplitude = 0.0;
        MemoryRecorder rec;
        const auto out = run_network(c, rec);
        for (double p : out.ltp) CHECK(p == 0.0);
        CHECK(rec.column("trace", "x").cwiseAbs().maxCoeff() == 0.0);
    }
    SECTION("constant input: every derivative vanishes and pl = K_l(ps) / (gamma_l + K_l(ps) / pl_max)") {
        NetworkRunConfig c = small_config(3, 3, 1);
        c.protocol.t_on_s = 600.0;  // ~30 tau_pl / gamma_l-limited time scales
        c.protocol.t_off_s = 0.0;
        c.params.gamma_l = 0.5;  // faster LTP relaxation so 600 s is plenty
        c.integrator.rel_tol = 1e-10;
        c.integrator.abs_tol = 1e-12;
        MemoryRecorder rec;
        run_network(c, rec);
        const Eigen::MatrixXd ps = rec.column("stp", "ps"), pl = rec.column("ltp", "pl");
        const Eigen::RowVectorXd pl_end = pl.row(pl.rows() - 1);
        for (long k = 0; k < 9; ++k) {
            const double kl = std::tanh(ps(0, k));
            CHECK_THAT(pl_end[k], WithinRel(kl / (0.5 + kl / 1.0), 1e-6));
        }
        // All derivatives at the final state are ~0.
        NetworkModel m(c.params, c.geometry, c.coupling);
        m.set_inputs(Eigen::VectorXd::Ones(3), Eigen::VectorXd::Zero(9));
        State y(m.state_size()), d;
        y << rec.column("trace", "x").bottomRows(1).transpose(), Eigen::VectorXd::Zero(27);
        // Rebuild the full state from the last full record.
        NetworkRunConfig full = c;
        full.record_full = true;
        MemoryRecorder rf;
        run_network(full, rf);
        const long last = static_cast<long>(rf.times("trace").size()) - 1;
        y << rf.column("trace", "x").row(last).transpose(), rf.column("trace", "s").row(last).transpose(),
            rf.column("trace", "ps").row(last).transpose(), rf.column("trace", "pl").row(last).transpose();
        m.rhs(y, d);
        CHECK(d.cwiseAbs().maxCoeff() < 1e-6);
    }
}

TEST_CASE("LTP curve over 64 cycles is increasing, concave and saturating", "[network][ltp]") {
    MemoryRecorder rec;
    const auto out = run_network(small_config(3, 3, 64), rec);
    REQUIRE(out.ltp.size() == 65);
    for (size_t t = 1; t < out.ltp.size(); ++t) CHECK(out.ltp[t] > out.ltp[t - 1]);
    for (size_t t = 2; t < out.ltp.size(); ++t) CHECK(out.ltp[t] - out.ltp[t - 1] < out.ltp[t - 1] - out.ltp[t - 2]);
    const double first = out.ltp[1] - out.ltp[0], last = out.ltp[64] - out.ltp[63];
    CHECK(last < 0.05 * first);  // close to saturation
    // An independent NumPy implementation of the same equations gives p(64) = 0.727 (docs/design.md section 3.1).
    CHECK_THAT(out.ltp[64], WithinAbs(0.727, 0.001));
}

TEST_CASE("trajectories converge as the tolerances shrink; RK4 agrees", "[network][convergence]") {
    auto p_end = [](double rtol, const char* method = "dopri5") {
        NetworkRunConfig c = small_config(2, 2, 8);
        c.integrator.method = method;
        c.integrator.rel_tol = rtol;
        c.integrator.abs_tol = rtol * 1e-2;
        c.integrator.dt_s = 1e-3;
        MemoryRecorder rec;
        return run_network(c, rec).ltp.back();
    };
    const double ref = p_end(1e-12);
    const double e4 = std::abs(p_end(1e-4) - ref), e6 = std::abs(p_end(1e-6) - ref), e8 = std::abs(p_end(1e-8) - ref);
    INFO("errors " << e4 << " " << e6 << " " << e8);
    CHECK(e6 < e4);
    CHECK(e8 < e6);
    CHECK(e8 < 1e-8);
    CHECK(std::abs(p_end(0, "rk4") - ref) < 1e-8);
}

TEST_CASE("protocols: random subsets are seeded, focal drive stays local", "[network][protocol]") {
    Protocol p;
    p.kind = Protocol::Kind::random;
    p.fraction = 0.25;
    p.seed = 7;
    Stimulus a(p, 16, 4), b(p, 16, 4);
    Eigen::VectorXd ua, ub, I;
    bool differs_between_cycles = false;
    Eigen::VectorXd first;
    for (long c = 0; c < 5; ++c) {
        a.on_phase(c, ua, I);
        b.on_phase(c, ub, I);
        CHECK(ua == ub);
        CHECK(ua.sum() == 4.0);  // 25% of 16 neurons at amplitude 1
        if (c == 0)
            first = ua;
        else if (ua != first)
            differs_between_cycles = true;
    }
    CHECK(differs_between_cycles);

    NetworkRunConfig c = small_config(1, 15, 2);
    c.geometry = Geometry::line(1, 15, 1.0);
    c.protocol.kind = Protocol::Kind::focal;
    c.protocol.focal_pre = 0;
    c.protocol.focal_post = 7;
    MemoryRecorder rec;
    run_network(c, rec);
    const Eigen::MatrixXd ps = rec.column("stp", "ps");
    for (int d = 1; d < 7; ++d) {
        CHECK(ps(0, 7 + d) < ps(0, 7 + d - 1));                   // decays with distance from the focus
        CHECK_THAT(ps(0, 7 + d), WithinRel(ps(0, 7 - d), 1e-9));  // symmetric
    }
}

TEST_CASE("bad network input gives errors that name the place", "[network][errors]") {
    SECTION("negative time constant") {
        CHECK_THROWS_WITH(config_from("[network.params]\ntau_s = -0.1\n"),
                          ContainsSubstring("test.toml:2: network.params.tau_s") && ContainsSubstring("must be > 0"));
    }
    SECTION("unknown key") {
        CHECK_THROWS_WITH(config_from("[network]\nn_pre = 2\n[network.params]\ntau_nn = 0.1\n"),
                          ContainsSubstring("test.toml:4: unknown key 'network.params.tau_nn'") &&
                              ContainsSubstring("did you mean 'tau_n'"));
    }
    SECTION("coordinate file with a bad line") {
        const std::string path = RMAAT_BINARY_DIR "/tests_bad_coords.txt";
        {
            std::ofstream f(path);
            f << "# x y\n0 0\n1 0\n0 x1\n1 1\n";
        }
        CHECK_THROWS_WITH(Geometry::from_file(path, 2, 2, 1.0),
                          ContainsSubstring("tests_bad_coords.txt:4: 'x1' is not a finite number"));
        {
            std::ofstream f(path);
            f << "0 0\n1 0\n0 1\n";
        }
        CHECK_THROWS_WITH(Geometry::from_file(path, 2, 2, 1.0), ContainsSubstring("3 coordinates for 4 synapses"));
        std::remove(path.c_str());
    }
    SECTION("a parameter set that overflows: error names time, variable and index; the record stays") {
        NetworkRunConfig c = small_config(2, 2, 3);
        c.params.Psi = {Activation::Shape::relu, 50.0};
        c.params.K = {Activation::Shape::relu, 50.0};
        c.params.gamma_s = 0.1;
        MemoryRecorder rec;
        try {
            run_network(c, rec);
            FAIL("expected an IntegrationError");
        } catch (const IntegrationError& e) {
            INFO(e.what());
            CHECK(e.time_s > 0.0);
            CHECK((e.variable.rfind("s[", 0) == 0 || e.variable.rfind("ps[", 0) == 0 ||
                   e.variable.rfind("pl[", 0) == 0 || e.variable.rfind("x[", 0) == 0 || e.variable.empty()));
            CHECK_THAT(std::string(e.what()), ContainsSubstring("t = "));
        }
        CHECK(rec.times("trace").size() >= 1);
    }
}

TEST_CASE("check_max_synapses is bounded like the dense path it builds", "[network][errors]") {
    // The dense check builds the n_syn x n_syn kernel: 1e6 synapses asked for 8 TB, past the dense guard.
    CHECK_THROWS_WITH(config_from("[network]\n[network.coupling]\ncheck_max_synapses = 1000000\n"),
                      ContainsSubstring("test.toml:3: network.coupling.check_max_synapses: value 1000000 out of "
                                        "range: must be in [0, 16384]"));
    CHECK(config_from("[network.coupling]\ncheck_max_synapses = 16384\n").coupling.check_max_synapses ==
          kMaxDenseSynapses);
    CHECK_THROWS_WITH(config_from("[network]\nn_pre = 200\nn_post = 200\n[network.coupling]\npath = \"dense\"\n"),
                      ContainsSubstring("network.coupling.path: dense coupling of 40000 synapses needs 12.8 GB"));
}

TEST_CASE("coordinate files: duplicates found by sorting with both lines named; only regular files",
          "[network][errors]") {
    const std::string path = RMAAT_BINARY_DIR "/tests_coords_512.txt";
    const long side = 512, n = side * side;  // comparing every pair took minutes here (20 at 1024 x 1024)
    // Synapse k = i * 512 + j at (0.5 i, 0.5 j), on line k + 2 (after a comment); with `duplicate`, the
    // second to last one at the position of synapse 3, (0, 1.5), written as (-0, 1.5).
    auto write = [&](bool duplicate) {
        std::ofstream f(path);
        f << "# a 512 x 512 lattice, 0.5 um\n";
        for (long k = 0; k < n; ++k) {
            if (duplicate && k == n - 2)
                f << "-0 1.5\n";
            else
                f << 0.5 * double(k / side) << " " << 0.5 * double(k % side) << "\n";
        }
    };
    write(false);
    const Geometry g = Geometry::from_file(path, side, side, 0.5);
    CHECK(g.positions(n - 1, 0) == 0.5 * (side - 1));
    CHECK(g.positions(3, 1) == 1.5);
    write(true);
    CHECK_THROWS_WITH(Geometry::from_file(path, side, side, 0.5),
                      ContainsSubstring("tests_coords_512.txt:262144: synapse 262142 has the same position (-0, 1.5) "
                                        "as synapse 3 (line 5)"));
    std::remove(path.c_str());

    // Not a regular file: refused before reading (a FIFO blocked the open, /dev/zero never ended).
    const std::string fifo = RMAAT_BINARY_DIR "/tests_coords_fifo.txt";
    CHECK_THROWS_WITH(Geometry::from_file(RMAAT_BINARY_DIR, 2, 2, 1.0),
                      ContainsSubstring("coordinate file must be a regular file, this is a directory"));
    std::remove(fifo.c_str());
    REQUIRE(mkfifo(fifo.c_str(), 0644) == 0);
    CHECK_THROWS_WITH(Geometry::from_file(fifo, 2, 2, 1.0), ContainsSubstring("this is a FIFO"));
    std::remove(fifo.c_str());
    CHECK_THROWS_WITH(Geometry::from_file("/dev/zero", 2, 2, 1.0), ContainsSubstring("this is a character device"));
}

TEST_CASE("a network run that cannot finish or fit is refused before it starts, naming the estimate and the key",
          "[network][limits][errors]") {
    auto check = [](const std::string& toml, const Limits& limits = {}) {
        simulate_to_file(Config::from_string(toml, "big.toml"), "", "", false, true, Replace::no, limits);
    };
    Limits allow;
    allow.allow_large = true;
    // 64 cycles of 5 s on a 1e-300 s grid: refused even when large runs are allowed.
    CHECK_THROWS_AS(check("[network]\nrecord_dt_s = 1e-300\n", allow), ConfigError);
    CHECK_THROWS_WITH(check("[network]\nrecord_dt_s = 1e-300\n", allow),
                      ContainsSubstring("big.toml:2: network.record_dt_s: the run would take 3.2e+302 trace rows") &&
                          ContainsSubstring("it cannot finish"));
    // 3.2e9 rows: over the limit, unless allowed.
    CHECK_THROWS_WITH(check("[network]\nrecord_dt_s = 1e-7\n"),
                      ContainsSubstring("more than the limit of 1e+09 events; raise record_dt_s or lower cycles in "
                                        "[network], or pass --allow-large"));
    CHECK_NOTHROW(check("[network]\nrecord_dt_s = 1e-7\n", allow));
    // Whole arrays of 4096 synapses every millisecond: 29.5 GiB.
    CHECK_THROWS_WITH(check("[network]\nn_pre = 64\nn_post = 64\nrecord_full = true\nrecord_dt_s = 0.001\n"),
                      ContainsSubstring("big.toml:4: network.record_full: the run would record 29.5 GiB in the run "
                                        "file") &&
                          ContainsSubstring("set record_full = false, raise record_dt_s or lower cycles in [network]"));
    // rk4 steps of 1e-19 s: 3.2e21 steps.
    CHECK_THROWS_WITH(check("[network.integrator]\nmethod = \"rk4\"\ndt_s = 1e-19\n", allow),
                      ContainsSubstring("big.toml:3: network.integrator.dt_s: the run would take 3.2e+21 rk4 steps") &&
                          ContainsSubstring("cannot finish"));
    CHECK_THROWS_WITH(check("[network.integrator]\ndt_max_s = 1e-12\n"),
                      ContainsSubstring("network.integrator.dt_max_s: the run would take 3.2e+14 dopri5 steps"));
    // A cycle of 2e308 s overflows to inf: not a number of rows.
    CHECK_THROWS_WITH(check("[network.protocol]\nt_on_s = 1e308\nt_off_s = 1e308\n", allow),
                      ContainsSubstring("cannot finish"));
    // The limits themselves: a coordinate file evaluates n_syn^2 kernel entries.
    Limits tight;
    tight.max_events = 10;
    CHECK_THROWS_WITH(check("[network]\nn_pre = 3\nn_post = 3\ncycles = 1\nrecord_dt_s = 100.0\n[network.geometry]\n"
                            "kind = \"file\"\nfile = \"" RMAAT_SOURCE_DIR "/examples/coords_3x3.txt\"\n",
                            tight),
                      ContainsSubstring("big.toml:2: network.n_pre: the run would take 81 coupling-kernel entries"));
    CHECK_NOTHROW(check("[network]\ncycles = 2\n"));
}
