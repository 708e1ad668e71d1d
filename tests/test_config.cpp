// Strict TOML config reading: types, ranges, unknown keys, malformed files, resolved output.
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
