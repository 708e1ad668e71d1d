// HDF5 run store: attributes, units, appendable datasets, the working file -> final rename, errors;
// foreign (h5py-written, hostile) files; exclusive working files; write errors.
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/h5_store.hpp"
#include "core/output_file.hpp"
#include "tests/catch.hpp"

using namespace rmaat;

namespace {
bool exists(const std::string& p) {
    struct stat st {};
    return stat(p.c_str(), &st) == 0;
}
const std::string dir = RMAAT_BINARY_DIR;

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Runs a Python script (h5py) that writes test files; REQUIREs success.
void python(const std::string& name, const std::string& script) {
    const std::string path = dir + "/" + name + ".py";
    std::ofstream(path) << "import h5py, numpy as np\n" << script;
    const std::string cmd = "/usr/bin/python3 " + path + " > " + path + ".log 2>&1";
    INFO(read_text(path + ".log"));
    REQUIRE(std::system(cmd.c_str()) == 0);
}

// Runs `body` in a child process with the file size limited to `limit` bytes (the soft limit; SIGXFSZ
// ignored, so a write beyond it fails with EFBIG, as on a full disk); returns what the child reported. The
// child then shuts the HDF5 library down as at exit, which crashed on a file whose close had failed.
template <typename F>
std::string with_file_size_limit(rlim_t limit, F body) {
    const std::string report = dir + "/fsize_report.txt";
    std::remove(report.c_str());
    std::fflush(nullptr);
    const pid_t pid = fork();
    if (pid == 0) {
        std::signal(SIGXFSZ, SIG_IGN);
        std::string out;
        {
            const rlimit lim{limit, RLIM_INFINITY};
            setrlimit(RLIMIT_FSIZE, &lim);
            try {
                body();
                out = "no error";
            } catch (const WriteError& e) {
                out = std::string("WriteError: ") + e.what();
            } catch (const std::exception& e) {
                out = std::string("other error: ") + e.what();
            }
            const rlimit none{RLIM_INFINITY, RLIM_INFINITY};
            setrlimit(RLIMIT_FSIZE, &none);
        }
        std::ofstream(report) << out;
        H5close();
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    INFO(read_text(report));
    REQUIRE(WIFEXITED(status));  // not killed by a signal (a crash in the library's shutdown)
    return read_text(report);
}
}  // namespace

TEST_CASE("a run file is written under .partial and appears under its name on commit", "[h5]") {
    const std::string path = dir + "/test_store.h5";
    std::remove(path.c_str());
    std::string work;
    {
        h5::File f = h5::File::create(path, Replace::yes);
        work = f.working_path();
        CHECK_THAT(work, ContainsSubstring(path + ".partial."));
        CHECK(exists(work));
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
    CHECK_FALSE(exists(work));

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
    std::string work;
    {
        h5::File f = h5::File::create(path);
        work = f.working_path();
        f.root().group("a").write("v", std::vector<double>{1.0}, {1}, "s");
        // destroyed without commit(), as when an exception unwinds
    }
    CHECK_FALSE(exists(path));
    CHECK(exists(work));
    // What was written stays readable in the working file.
    h5::File r = h5::File::open_read(work);
    CHECK(r.root().open_group("a").read("v").data == std::vector<double>{1.0});
    std::remove(work.c_str());
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
    h5::File f = h5::File::create(path, Replace::yes);
    CHECK_THROWS_WITH(f.root().open_group("nope"), ContainsSubstring("no group /nope"));
    CHECK_THROWS_WITH(f.root().read("nope"), ContainsSubstring("no dataset /nope"));
    CHECK_THROWS_WITH(f.root().attr_string("nope"), ContainsSubstring("has no attribute 'nope'"));
    CHECK_THROWS_WITH(f.root().attr_string("nope"), ContainsSubstring(f.working_path()));
    f.commit();
    std::remove(path.c_str());
}

TEST_CASE("h5py attributes read by their real type: variable length, NULLPAD, SPACEPAD, one element", "[h5]") {
    const std::string path = dir + "/h5py_attrs.h5";
    python("h5py_attrs", "with h5py.File('" + path + R"(', 'w') as f:
    f.attrs['vlen_utf8'] = 'h\u00e9llo'
    f.attrs['vlen_ascii'] = np.array('abc', dtype=h5py.string_dtype('ascii'))
    f.attrs['nullpad'] = np.bytes_(b'abcd')
    f.attrs.create('nullpad_spaces', b'ab  ', dtype=h5py.string_dtype('ascii', 4))
    tid = h5py.h5t.C_S1.copy(); tid.set_size(4); tid.set_strpad(h5py.h5t.STR_SPACEPAD)
    a = h5py.h5a.create(f.id, b'spacepad', tid, h5py.h5s.create(h5py.h5s.SCALAR))
    a.write(np.array(b'xy  ', dtype='S4'))
    f.attrs['one_vlen'] = np.array(['solo'], dtype=h5py.string_dtype())
    f.attrs['one_fixed'] = np.array([b'fixed'])
    f.attrs['int'] = np.int64(7)
    f.attrs['uint'] = np.uint32(9)
    f.attrs['float'] = 0.5
    f.attrs['one_double'] = np.array([2.5])
)");
    h5::File f = h5::File::open_read(path);
    const h5::Group g = f.root();
    CHECK(g.attr_string("vlen_utf8") == "h\xc3\xa9llo");  // h5py's default str: variable length, UTF-8
    CHECK(g.attr_string("vlen_ascii") == "abc");
    CHECK(g.attr_string("nullpad") == "abcd");         // fills its 4 bytes: no terminator, no character lost
    CHECK(g.attr_string("nullpad_spaces") == "ab  ");  // NULLPAD: spaces are characters
    CHECK(g.attr_string("spacepad") == "xy");          // SPACEPAD: the padding spaces are not
    CHECK(g.attr_string("one_vlen") == "solo");
    CHECK(g.attr_string("one_fixed") == "fixed");
    CHECK(g.attr_double("int") == 7.0);
    CHECK(g.attr_int("int") == 7);
    CHECK(g.attr_int("uint") == 9);
    CHECK(g.attr_double("float") == 0.5);
    CHECK(g.attr_double("one_double") == 2.5);
}

TEST_CASE("attributes that are not one string or one number are refused, naming file, object and attribute",
          "[h5][errors]") {
    const std::string path = dir + "/h5py_bad_attrs.h5";
    python("h5py_bad_attrs", "with h5py.File('" + path + R"(', 'w') as f:
    g = f.create_group('grp')
    g.attrs['strings'] = np.array(['one', 'two'], dtype=h5py.string_dtype())
    g.attrs['fixed_strings'] = np.array([b'aa', b'bb'])
    g.attrs['doubles'] = np.arange(2000.0)
    g.attrs['text'] = 'not a number'
    g.attrs['half'] = 0.5
    g.attrs['empty'] = h5py.Empty('f8')
    g.attrs['huge'] = np.uint64(2**64 - 1)
    d = g.create_dataset('d', data=[1.0, 2.0])
    d.attrs['units'] = np.arange(2000.0)
)");
    h5::File f = h5::File::open_read(path);
    const h5::Group g = f.root().open_group("grp");
    auto refused = [&](auto read, const std::string& attr, const std::string& reason) {
        try {
            read();
            FAIL("expected an error for attribute " << attr);
        } catch (const h5::Error& e) {
            INFO(e.what());
            CHECK_THAT(e.what(), ContainsSubstring(path) && ContainsSubstring("/grp") &&
                                     ContainsSubstring("'" + attr + "'") && ContainsSubstring(reason));
        }
    };
    refused([&] { g.attr_string("strings"); }, "strings", "holds 2 elements of string, expected one string");
    refused([&] { g.attr_string("fixed_strings"); }, "fixed_strings", "expected one string");
    refused([&] { g.attr_string("doubles"); }, "doubles", "2000 elements of floating-point number");
    refused([&] { g.attr_double("doubles"); }, "doubles", "expected one number");  // never 2000 into one double
    refused([&] { g.attr_double("text"); }, "text", "a scalar string, expected one number");
    refused([&] { g.attr_double("strings"); }, "strings", "expected one number");
    refused([&] { g.attr_int("half"); }, "half", "expected one integer");
    refused([&] { g.attr_string("empty"); }, "empty", "0 elements");
    refused([&] { g.attr_int("huge"); }, "huge", "beyond the int64 range");
    refused([&] { g.dataset_attr_string("d", "units"); }, "units", "expected one string");
    // The listing of a file reports a dataset with bad units as unreadable instead of failing.
    bool listed = false;
    for (const auto& o : f.root().list_objects()) {
        if (o.path != "grp/d") continue;
        listed = true;
        CHECK_THAT(o.problem, ContainsSubstring("expected one string"));
    }
    CHECK(listed);
}

TEST_CASE("datasets are checked for type, rank and size before anything is allocated", "[h5][errors]") {
    const std::string path = dir + "/h5py_bad_datasets.h5";
    python("h5py_bad_datasets", "with h5py.File('" + path + R"(', 'w') as f:
    f.create_dataset('huge', shape=(2**31,), dtype='f8')       # declared, never written: a 2 kB file
    f.create_dataset('huge2d', shape=(2**40, 2**40), dtype='f8', chunks=(1, 1))
    f.create_dataset('matrix', data=np.ones((3, 4)))
    f.create_dataset('text', data=np.array([b'abc', b'def']))
    f.create_dataset('three', data=[1.0, 2.0, 3.0])
    f.create_dataset('one', data=[4.0])
    f.create_dataset('ints', data=np.arange(5, dtype='i4'))
    f.create_group('grp')
)");
    h5::File f = h5::File::open_read(path);
    const h5::Group g = f.root();
    CHECK_THROWS_WITH(g.read("huge"), ContainsSubstring(path + ": /huge declares shape [2147483648]") &&
                                          ContainsSubstring("more than the"));
    CHECK_THROWS_WITH(g.read("huge2d"), ContainsSubstring("/huge2d declares shape [1099511627776 x 1099511627776]"));
    CHECK_THROWS_WITH(g.read("three", 1, 2), ContainsSubstring("more than the 2 values"));
    CHECK_THROWS_WITH(g.read("matrix", 1, 100),
                      ContainsSubstring("/matrix has shape [3 x 4] (2 dimensions), expected 1"));
    CHECK(g.read("matrix", 2, 12).dims == std::vector<hsize_t>{3, 4});
    CHECK_THROWS_WITH(g.read("text"), ContainsSubstring("/text holds 2 elements of string, expected numbers"));
    CHECK_THROWS_WITH(g.read("grp"), ContainsSubstring("/grp is not a dataset"));
    CHECK_THROWS_WITH(g.read_scalar("three"), ContainsSubstring("/three has shape [3], expected a single value"));
    CHECK(g.read_scalar("one") == 4.0);
    CHECK(g.read("ints").data == std::vector<double>{0, 1, 2, 3, 4});
}

TEST_CASE("two writers of one output never share a working file; the later one does not replace the first",
          "[h5][output]") {
    const std::string path = dir + "/two_writers.h5";
    std::remove(path.c_str());
    h5::File first = h5::File::create(path);
    h5::File second = h5::File::create(path);  // before: truncated the first's working file
    CHECK(first.working_path() != second.working_path());
    first.root().attr("who", std::string("first"));
    second.root().attr("who", std::string("second"));
    first.commit();
    try {
        second.commit();
        FAIL("the second commit replaced the first's file");
    } catch (const InputError& e) {
        CHECK_THAT(e.what(), ContainsSubstring("'" + path + "' appeared while this run wrote") &&
                                 ContainsSubstring("pass --force"));
    }
    CHECK(h5::File::open_read(path).root().attr_string("who") == "first");
    CHECK(h5::File::open_read(second.working_path()).root().attr_string("who") == "second");  // kept, named
    std::remove(second.working_path().c_str());

    h5::File forced = h5::File::create(path, Replace::yes);
    forced.root().attr("who", std::string("forced"));
    forced.commit();
    CHECK(h5::File::open_read(path).root().attr_string("who") == "forced");
}

TEST_CASE("a symlink planted at the working name is never followed", "[h5][output]") {
    const std::string path = dir + "/planted.h5";
    const std::string victim = dir + "/planted_victim.txt";
    std::remove(path.c_str());
    std::remove((path + ".partial").c_str());
    std::ofstream(victim) << "precious\n";
    REQUIRE(symlink(victim.c_str(), (path + ".partial").c_str()) == 0);
    {
        h5::File f = h5::File::create(path);
        struct stat st {};
        REQUIRE(lstat(f.working_path().c_str(), &st) == 0);
        CHECK(S_ISREG(st.st_mode));
        f.root().attr("status", std::string("complete"));
        f.commit();
    }
    CHECK(read_text(victim) == "precious\n");
    struct stat st {};
    REQUIRE(lstat(path.c_str(), &st) == 0);
    CHECK(S_ISREG(st.st_mode));
    std::remove((path + ".partial").c_str());
}

TEST_CASE("text outputs are exclusive, complete or absent, and not replaced without Replace::yes", "[h5][output]") {
    const std::string path = dir + "/text_output.txt";
    std::remove(path.c_str());
    write_text_file(path, "one\n", Replace::no);
    CHECK(read_text(path) == "one\n");
    CHECK_THROWS_WITH(write_text_file(path, "two\n", Replace::no), ContainsSubstring("appeared while this run wrote"));
    CHECK(read_text(path) == "one\n");
    write_text_file(path, "three\n", Replace::yes);
    CHECK(read_text(path) == "three\n");
}

TEST_CASE("a write error names the file and the operating system's reason, and is a WriteError", "[h5][output]") {
    const std::string path = dir + "/too_large.h5";
    std::remove(path.c_str());
    // A run file that grows beyond the file size limit (as a full disk would stop it).
    const std::string h5_report = with_file_size_limit(64 * 1024, [&] {
        h5::File f = h5::File::create(path, Replace::yes);
        try {
            auto rows = f.root().group("trace").appendable("x", {100}, "1", 64);
            std::vector<double> row(100, 1.0);
            for (int r = 0; r < 2000; ++r) rows.append(row.data());
            rows.flush();
            f.commit();
        } catch (const WriteError&) {
            f.discard();
            throw;
        }
    });
    CHECK_THAT(h5_report, ContainsSubstring("WriteError: ") && ContainsSubstring("too_large.h5.partial.") &&
                              ContainsSubstring("File too large"));
    CHECK_FALSE(exists(path));
    // A text output: the summary of a calibration.
    const std::string text_path = dir + "/too_large.txt";
    std::remove(text_path.c_str());
    const std::string text_report =
        with_file_size_limit(1024, [&] { write_text_file(text_path, std::string(4096, 'x'), Replace::yes); });
    CHECK_THAT(text_report, ContainsSubstring("WriteError: cannot write '" + text_path + "': File too large"));
    CHECK_FALSE(exists(text_path));
}
