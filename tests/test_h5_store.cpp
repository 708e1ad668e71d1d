// HDF5 run store: attributes, units, appendable datasets, the .partial -> final rename, errors.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "core/h5_store.hpp"
#include "tests/catch.hpp"

using namespace rmaat;

namespace {
bool exists(const std::string& p) {
    struct stat st {};
    return stat(p.c_str(), &st) == 0;
}
const std::string dir = RMAAT_BINARY_DIR;
}  // namespace

TEST_CASE("a run file is written under .partial and appears under its name on commit", "[h5]") {
    const std::string path = dir + "/test_store.h5";
    std::remove(path.c_str());
    {
        h5::File f = h5::File::create(path);
        CHECK(exists(path + ".partial"));
        CHECK_FALSE(exists(path));
        const h5::Group g = f.root().group("sim/network/trace");
        g.attr("status", std::string("ok"));
        g.attr("scale", 0.25);
        g.write("positions", std::vector<double>{0, 0, 1, 0, 0, 1}, {3, 2}, "um");
        auto rows = g.appendable("x", {2}, "uM", 4);
        for (int r = 0; r < 10; ++r) {
            const double row[2] = {double(r), 10.0 * r};
            rows.append(row);
        }
        rows.flush();
        CHECK(rows.rows() == 10);
        f.commit();
    }
    CHECK(exists(path));
    CHECK_FALSE(exists(path + ".partial"));

    h5::File r = h5::File::open_read(path);
    const h5::Group g = r.root().open_group("sim/network/trace");
    CHECK(g.attr_string("status") == "ok");
    CHECK(g.attr_double("scale") == 0.25);
    const h5::Array x = g.read("x");
    REQUIRE(x.dims == std::vector<hsize_t>{10, 2});
    CHECK(x.data[2 * 7 + 1] == 70.0);
    CHECK(g.units("x") == "uM");
    CHECK(g.units("positions") == "um");
    CHECK(g.read("positions").dims == std::vector<hsize_t>{3, 2});
}

TEST_CASE("an uncommitted file never takes the final name", "[h5]") {
    const std::string path = dir + "/test_uncommitted.h5";
    std::remove(path.c_str());
    std::remove((path + ".partial").c_str());
    {
        h5::File f = h5::File::create(path);
        f.root().group("a").write("v", std::vector<double>{1.0}, {1}, "s");
        // destroyed without commit(), as when an exception unwinds
    }
    CHECK_FALSE(exists(path));
    CHECK(exists(path + ".partial"));
    // What was written stays readable in the .partial file.
    h5::File r = h5::File::open_read(path + ".partial");
    CHECK(r.root().open_group("a").read("v").data == std::vector<double>{1.0});
    std::remove((path + ".partial").c_str());
}

TEST_CASE("store errors name the path and the reason", "[h5][errors]") {
    CHECK_THROWS_WITH(
        h5::File::create("/nonexistent-dir/run.h5"),
        ContainsSubstring(
            "cannot write run file '/nonexistent-dir/run.h5': directory '/nonexistent-dir' does not exist"));
    CHECK_THROWS_WITH(h5::File::open_read(dir + "/no-such-file.h5"), ContainsSubstring("no-such-file.h5"));
    const std::string text = dir + "/not_hdf5.h5";
    {
        FILE* f = std::fopen(text.c_str(), "w");
        std::fputs("plain text\n", f);
        std::fclose(f);
    }
    CHECK_THROWS_WITH(h5::File::open_read(text), ContainsSubstring("is not an HDF5 file"));
    std::remove(text.c_str());
    if (geteuid() != 0) {  // root can write anywhere
        CHECK_THROWS_WITH(h5::File::create("/proc/run.h5"), ContainsSubstring("cannot"));
    }
    const std::string path = dir + "/test_missing.h5";
    h5::File f = h5::File::create(path);
    CHECK_THROWS_WITH(f.root().open_group("nope"), ContainsSubstring("no group /nope"));
    CHECK_THROWS_WITH(f.root().read("nope"), ContainsSubstring("no dataset /nope"));
    CHECK_THROWS_WITH(f.root().attr_string("nope"), ContainsSubstring("has no attribute 'nope'"));
    f.commit();
    std::remove(path.c_str());
}
