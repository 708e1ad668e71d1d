// Strict TOML config reading: types, ranges, unknown keys, malformed files, resolved output.
#include <sys/stat.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>

#include "core/config.hpp"
#include "tests/catch.hpp"

using namespace rmaat;

TEST_CASE("values, defaults and the resolved config", "[config]") {
    const Config c =
        Config::from_string("top = 3\n[a]\nx = 1.5\nn = 4\nflag = true\nname = \"grid\"\nv = [1, 2.5]\n", "t.toml");
    const ConfigSection a = c.section("a");
    CHECK(c.root().get_int("top", 0) == 3);
    CHECK(a.get_double("x", 0.0) == 1.5);
    CHECK(a.get_double("n", 0.0) == 4.0);  // an integer is a valid number
    CHECK(a.get_int("n", 0) == 4);
    CHECK(a.get_bool("flag", false));
    CHECK(a.get_string("name", "", {"grid", "line"}) == "grid");
    CHECK(a.get_double_array("v", {}) == std::vector<double>{1.0, 2.5});
    CHECK(a.get_double("missing", 7.0) == 7.0);
    CHECK(c.section("b").section("c").get_string("deep", "d") == "d");
    REQUIRE_NOTHROW(c.check_all_used());
    // The resolved config holds the defaults too, and parses back to the same values.
    const Config back = Config::from_string(c.resolved_text(), "resolved");
    CHECK(back.section("a").get_double("missing", 0.0) == 7.0);
    CHECK(back.section("b").section("c").get_string("deep", "") == "d");
    CHECK(back.section("a").get_double("x", 0.0) == 1.5);
}

TEST_CASE("malformed TOML names file, line and column", "[config][errors]") {
    CHECK_THROWS_AS(Config::from_string("[a]\nx = = 1\n", "bad.toml"), ConfigError);
    CHECK_THROWS_WITH(Config::from_string("[a]\nx = = 1\n", "bad.toml"),
                      ContainsSubstring("bad.toml:2:") && ContainsSubstring("malformed TOML"));
    CHECK_THROWS_WITH(Config::from_file("/nonexistent/x.toml"), ContainsSubstring("/nonexistent/x.toml: cannot open"));
}

TEST_CASE("wrong types and out-of-range values name key and line", "[config][errors]") {
    const Config c =
        Config::from_string("[m]\ntau = -1.0\nn = 2.5\nname = 3\nkind = \"cube\"\nv = [1, \"a\"]\nz = nan\n", "r.toml");
    const ConfigSection m = c.section("m");
    CHECK_THROWS_WITH(m.get_double("tau", 1.0, Range::positive()),
                      ContainsSubstring("r.toml:2: m.tau: value -1 out of range: must be > 0"));
    CHECK_THROWS_WITH(m.get_int("n", 1), ContainsSubstring("r.toml:3: m.n: expected an integer, got a float"));
    CHECK_THROWS_WITH(m.get_string("name", ""),
                      ContainsSubstring("r.toml:4: m.name: expected a string, got an integer"));
    CHECK_THROWS_WITH(
        m.get_string("kind", "grid", {"grid", "line"}),
        ContainsSubstring("r.toml:5: m.kind: unknown value \"cube\": expected one of \"grid\", \"line\""));
    CHECK_THROWS_WITH(m.get_double_array("v", {}), ContainsSubstring("r.toml:6: m.v: element 1: expected a number"));
    CHECK_THROWS_WITH(m.get_double("z", 0.0), ContainsSubstring("r.toml:7: m.z: value nan out of range"));
    CHECK_THROWS_WITH(m.get_double("tau", 1.0, Range::closed(0, 1)), ContainsSubstring("must be in [0, 1]"));
}

TEST_CASE("unknown keys and sections are errors, with a hint", "[config][errors]") {
    SECTION("misspelt key") {
        const Config c = Config::from_string("[net]\ntau_n = 1\ntua_s = 2\n", "u.toml");
        c.section("net").get_double("tau_n", 0);
        c.section("net").get_double("tau_s", 0);
        CHECK_THROWS_WITH(c.check_all_used(),
                          ContainsSubstring("u.toml:3: unknown key 'net.tua_s' (did you mean 'tau_s'?)"));
    }
    SECTION("unknown section") {
        const Config c = Config::from_string("[net]\na = 1\n[nte]\nb = 2\n", "u.toml");
        c.section("net").get_double("a", 0);
        CHECK_THROWS_WITH(c.check_all_used(), ContainsSubstring("u.toml:3: unknown section [nte]"));
    }
    SECTION("a table where a value is expected") {
        const Config c = Config::from_string("[net]\n[net.tau]\nx = 1\n", "u.toml");
        CHECK_THROWS_WITH(c.section("net").get_double("tau", 0), ContainsSubstring("expected a number, got a table"));
    }
}

TEST_CASE("a table of another stage can be left to that stage", "[config]") {
    const Config c = Config::from_string("[sim]\na = 1\n[calibration]\nanything = 2\n[calibraton]\nb = 3\n", "s.toml");
    c.section("sim").get_double("a", 0);
    c.ignore_section("calibration");
    // The misspelt table is still caught.
    CHECK_THROWS_WITH(c.check_all_used(), ContainsSubstring("s.toml:5: unknown section [calibraton]"));
}

TEST_CASE("infinity is outside every range unless the key documents it", "[config][errors]") {
    const Config c = Config::from_string("[m]\ndt = inf\nneg = -inf\nv = [1.0, inf]\nn = 1e300\n", "i.toml");
    const ConfigSection m = c.section("m");
    CHECK_THROWS_WITH(m.get_double("dt", 1.0, Range::positive()),
                      ContainsSubstring("i.toml:2: m.dt: value inf out of range: must be finite and > 0"));
    CHECK_THROWS_WITH(m.get_double("dt", 1.0),
                      ContainsSubstring("i.toml:2: m.dt: value inf out of range: must be finite"));
    CHECK_THROWS_WITH(m.get_double("neg", 1.0, Range::any()), ContainsSubstring("value -inf out of range"));
    CHECK_THROWS_WITH(m.get_double_array("v", {}, Range::non_negative()),
                      ContainsSubstring("i.toml:4: m.v: element 1 = inf out of range: must be finite and >= 0"));
    CHECK(m.get_double("n", 1.0, Range::positive()) == 1e300);  // large but finite: the costs judge it
    // A key that gives inf a meaning says so.
    CHECK(std::isinf(m.get_double("dt", 1.0, Range::positive().allowing_infinity())));
    CHECK_FALSE(Range::positive().contains(std::numeric_limits<double>::infinity()));
    CHECK_FALSE(Range::any().allowing_infinity().contains(std::numeric_limits<double>::quiet_NaN()));
}

TEST_CASE("a quoted key with a dot is an unknown key, not the dotted key it looks like", "[config][errors]") {
    SECTION("a value") {
        const Config c = Config::from_string("[network]\n\"params.tau_n\" = -5.0\n", "q.toml");
        CHECK(c.section("network").section("params").get_double("tau_n", 0.01, Range::positive()) == 0.01);
        CHECK_THROWS_AS(c.check_all_used(), ConfigError);
        CHECK_THROWS_WITH(c.check_all_used(),
                          ContainsSubstring("q.toml:2: unknown key \"params.tau_n\" in [network]") &&
                              ContainsSubstring("not the dotted key network.params.tau_n; remove the quotes"));
    }
    SECTION("a table") {
        const Config c = Config::from_string("[\"network.params\"]\ntau_n = 1.0\n", "q.toml");
        c.section("network").section("params").get_double("tau_n", 0.01);
        CHECK_THROWS_WITH(c.check_all_used(), ContainsSubstring("q.toml:1: unknown table \"network.params\" at the top "
                                                                "level"));
    }
    SECTION("an empty key") {
        const Config c = Config::from_string("[network]\n\"\" = 1\n", "q.toml");
        c.section("network");
        CHECK_THROWS_WITH(c.check_all_used(), ContainsSubstring("q.toml:2: unknown key \"\" in [network]"));
    }
}

TEST_CASE("nesting depth is bounded before toml++ parses (a deep header overflowed its stack)", "[config][errors]") {
    std::size_t line = 0;
    CHECK(toml_nesting_depth("[a.b]\nc.d = [1, [2]]\n", 100, &line) == 6);
    CHECK(line == 2);
    CHECK(toml_nesting_depth("x = 1.5\ny = [1.5, 2.5, 3.5]\nz = 1979-05-27T07:32:00.999\n", 100) == 2);
    CHECK(toml_nesting_depth("[[a.b]]\nc = 1\n", 100) == 4);
    CHECK(toml_nesting_depth("a = {b = {c.d = 1}, e = [{f = 2}]}\n", 100) == 4);
    // Dots and brackets in strings and comments do not nest.
    CHECK(toml_nesting_depth(
              "\"a.b.c.d\" = 'x.y.[[['\n# a.b.c.d.e = [[[[\n[\"p.q.r\"]\ns = \"\"\"\n[a.b.c.d]\n\"\"\"\n", 100) == 2);
    const std::string deep_header = "[" + [] {
        std::string s = "a";
        for (int i = 0; i < 40000; ++i) s += ".a";
        return s;
    }() + "]\nx = 1\n";
    CHECK_THROWS_AS(Config::from_string(deep_header, "deep.toml"), ConfigError);
    CHECK_THROWS_WITH(Config::from_string(deep_header, "deep.toml"),
                      ContainsSubstring("deep.toml:1: tables, keys and arrays nested more than 64 levels deep"));
    std::string deep_key = "k";
    for (int i = 0; i < 100; ++i) deep_key += ".k";
    CHECK_THROWS_WITH(Config::from_string("[t]\n" + deep_key + " = 1\n", "key.toml"), ContainsSubstring("key.toml:2:"));
    CHECK_THROWS_WITH(Config::from_string("v = " + std::string(100, '[') + std::string(100, ']') + "\n", "arr.toml"),
                      ContainsSubstring("arr.toml:1: tables, keys and arrays nested"));
    // 64 levels are still read.
    std::string ok = "a";
    for (int i = 1; i < 63; ++i) ok += ".a";
    CHECK_NOTHROW(Config::from_string("[" + ok + "]\nx = 1\n", "ok.toml"));
    CHECK_THROWS_WITH(Config::from_string(std::string(kMaxConfigBytes + 1, '#'), "big.toml"),
                      ContainsSubstring("big.toml: 16777217 bytes of config, more than the limit of 16 MiB"));
}

TEST_CASE("a config file must be a regular file of bounded size: no directory, FIFO or device", "[config][errors]") {
    const std::string dir = RMAAT_BINARY_DIR "/config_test";
    mkdir(dir.c_str(), 0755);
    CHECK_THROWS_WITH(Config::from_file(dir), ContainsSubstring(dir + ": config file must be a regular file, this is "
                                                                      "a directory"));
    const std::string fifo = dir + "/fifo.toml";
    std::remove(fifo.c_str());
    REQUIRE(mkfifo(fifo.c_str(), 0644) == 0);
    CHECK_THROWS_WITH(Config::from_file(fifo), ContainsSubstring("this is a FIFO"));  // no writer: must not block
    std::remove(fifo.c_str());
    CHECK_THROWS_WITH(Config::from_file("/dev/zero"), ContainsSubstring("/dev/zero: config file must be a regular "
                                                                        "file, this is a character device"));
    const std::string big = dir + "/big.toml";
    {
        std::ofstream f(big);
        f << std::string(kMaxConfigBytes + 10, '#');
    }
    CHECK_THROWS_AS(Config::from_file(big), ConfigError);
    CHECK_THROWS_WITH(Config::from_file(big), ContainsSubstring("larger than the limit of 16 MiB"));
    std::remove(big.c_str());
    const std::string ok = dir + "/ok.toml";
    std::ofstream(ok) << "[a]\nx = 2\n";
    CHECK(Config::from_file(ok).section("a").get_int("x", 0) == 2);
}
