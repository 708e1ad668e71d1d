// Crash consistency of run files (core/h5_superblock.hpp, docs/design.md 7.3): the superblock checksum,
// the EOA raised ahead of each flush, and the file as a kill inside a flush leaves it, rebuilt byte by
// byte from the file before and after that flush.
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

#include "core/h5_store.hpp"
#include "core/h5_superblock.hpp"
#include "tests/catch.hpp"

using namespace rmaat;

namespace {
struct Event;
void record(int fd, bool resize, off_t offset, const void* bytes, std::size_t n);
}  // namespace

// The test program's own pwrite and ftruncate, which libhdf5 and rmaat_core call instead of the C
// library's: they record the calls on the watched descriptor and pass every call on to the kernel.
extern "C" ssize_t pwrite(int fd, const void* buf, size_t n, off_t offset) {
    record(fd, false, offset, buf, n);
    return syscall(SYS_pwrite64, fd, buf, n, offset);
}
extern "C" int ftruncate(int fd, off_t size) {
    record(fd, true, size, nullptr, 0);
    return static_cast<int>(syscall(SYS_ftruncate, fd, size));
}

namespace {
const std::string dir = RMAAT_BINARY_DIR;

std::string read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// The descriptor HDF5 writes the file of `g` through, and its end of allocated space.
int descriptor(const h5::Group& g) {
    const hid_t f = H5Iget_file_id(g.id());
    int* fd = nullptr;
    REQUIRE(H5Fget_vfd_handle(f, H5P_DEFAULT, reinterpret_cast<void**>(&fd)) >= 0);
    H5Fclose(f);
    return *fd;
}
std::uint64_t allocated(const h5::Group& g) {
    const hid_t f = H5Iget_file_id(g.id());
    haddr_t eoa = 0;
    REQUIRE(H5Fget_eoa(f, &eoa) >= 0);
    H5Fclose(f);
    return eoa;
}

// Reads every dataset of each file in full with h5py; returns the files it could not, with the reason.
std::string unreadable_with_h5py(const std::vector<std::string>& files) {
    const std::string script = dir + "/crash_read.py", log = dir + "/crash_read.log";
    std::ofstream py(script);
    py << "import sys, h5py\nfor p in sys.argv[1:]:\n    try:\n        with h5py.File(p, 'r') as f:\n"
          "            n = []\n"
          "            f.visititems(lambda k, o: n.append(o[()]) if isinstance(o, h5py.Dataset) else None)\n"
          "    except Exception as e:\n        print(p, e)\n";
    py.close();
    std::string cmd = "ulimit -v 4000000; /usr/bin/python3 " + script;  // a damaged file may ask for much
    for (const auto& f : files) cmd += " " + f;
    REQUIRE(std::system((cmd + " > " + log + " 2>&1").c_str()) == 0);
    return read_bytes(log);
}

// Every pwrite and ftruncate on one descriptor, as the system saw them, while g_recorded_fd is set: a
// kill lands between two of them (each pwrite of the sec2 driver is one system call).
struct Event {
    bool resize = false;
    off_t offset = 0;  // or the new size
    std::string bytes;
};
int g_recorded_fd = -1;
std::vector<Event> g_events;

void record(int fd, bool resize, off_t offset, const void* bytes, std::size_t n) {
    if (fd != g_recorded_fd) return;
    g_events.push_back({resize, offset, std::string(static_cast<const char*>(bytes ? bytes : ""), n)});
}

// `before` with events [skip, k) applied.
std::string apply(std::string file, const std::vector<Event>& events, std::size_t k, std::size_t skip) {
    for (std::size_t i = skip; i < k; ++i) {
        const Event& e = events[i];
        if (e.resize) {
            file.resize(static_cast<std::size_t>(e.offset));
            continue;
        }
        const std::size_t end = static_cast<std::size_t>(e.offset) + e.bytes.size();
        if (file.size() < end) file.resize(end);
        std::copy(e.bytes.begin(), e.bytes.end(), file.begin() + e.offset);
    }
    return file;
}

// A writer's pattern: groups, attributes, narrow and wide growing datasets, datasets written whole.
void write_some(const h5::Group& root, std::vector<h5::AppendableDataset>& streams, int round) {
    const h5::Group g = root.group("sim/round" + std::to_string(round));
    g.attr("status", "running");
    g.write("table", std::vector<double>(300, round), {100, 3}, "1");
    // Enough new objects that their headers outgrow the space the last flush had set aside for metadata.
    for (int i = 0; i < 24; ++i) g.group("part" + std::to_string(i)).attr("index", std::int64_t{i});
    if (streams.empty()) {
        streams.push_back(root.group("sim/trace").appendable("time", {}, "s", 64));
        streams.push_back(root.group("sim/trace").appendable("wide", {40}, "uM", 16));
    }
    std::vector<double> row(40, 0.5);
    for (int i = 0; i < 700; ++i) {
        streams[0].append(round * 1000.0 + i);
        streams[1].append(row.data());
    }
    for (auto& s : streams) s.flush();
}
}  // namespace

TEST_CASE("lookup3 matches Bob Jenkins' published values and the checksum HDF5 writes into a superblock", "[h5]") {
    const std::string text = "Four score and seven years ago";
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    CHECK(h5::lookup3_checksum(p, text.size()) == 0x17770551u);  // lookup3.c's driver5 value
    CHECK(h5::lookup3_checksum(p, 0) == 0xdeadbeefu);

    const std::string path = dir + "/checksum.h5";
    std::remove(path.c_str());
    {
        h5::File f = h5::File::create(path, Replace::yes);
        f.root().attr("x", 1.0);
        f.commit();
    }
    const std::string sb = read_bytes(path);
    REQUIRE(sb.size() > 48);
    REQUIRE(sb[8] == 2);  // rmaat's files: superblock version 2 (file space strategy NONE)
    std::uint32_t stored = 0;
    for (int i = 3; i >= 0; --i) stored = (stored << 8) | static_cast<unsigned char>(sb[44 + i]);
    CHECK(h5::lookup3_checksum(reinterpret_cast<const unsigned char*>(sb.data()), 44) == stored);
}

TEST_CASE("the EOA raised on disk ahead of a flush is stored, never lowered, and the file still reads", "[h5]") {
    const std::string path = dir + "/raised.h5";
    std::remove(path.c_str());
    h5::File f = h5::File::create(path, Replace::yes);
    f.root().write("x", std::vector<double>{1, 2, 3}, {3}, "m");
    f.flush();
    const int fd = descriptor(f.root());
    const std::uint64_t eoa = h5::stored_eoa(fd);
    REQUIRE(eoa == allocated(f.root()));
    h5::raise_stored_eoa(fd, eoa + 4096, f.working_path());
    CHECK(h5::stored_eoa(fd) == eoa + 4096);
    h5::raise_stored_eoa(fd, eoa, f.working_path());  // never lowered
    CHECK(h5::stored_eoa(fd) == eoa + 4096);
    // A reader of the working file now: the checksum holds and the file is long enough.
    const std::string copy = dir + "/raised_copy.h5";
    write_bytes(copy, read_bytes(f.working_path()));
    CHECK(read_bytes(copy).size() == eoa + 4096);
    CHECK(h5::File::open_read(copy).root().read("x").data == std::vector<double>{1, 2, 3});
    CHECK(unreadable_with_h5py({copy}).empty());
    f.commit();
    CHECK(h5::File::open_read(path).root().read("x").data == std::vector<double>{1, 2, 3});
}

TEST_CASE("a kill between any two writes of a flush leaves a file whose every dataset h5py reads", "[h5][output]") {
    const std::string path = dir + "/midflush.h5";
    std::remove(path.c_str());
    h5::File f = h5::File::create(path, Replace::yes);
    std::vector<h5::AppendableDataset> streams;
    write_some(f.root(), streams, 0);
    f.flush();
    const long overruns = h5::flushes_past_stored_eoa();
    for (int round = 1; round <= 3; ++round) {
        write_some(f.root(), streams, round);
        const std::string before = read_bytes(f.working_path());
        g_recorded_fd = descriptor(f.root());
        g_events.clear();
        f.flush();
        g_recorded_fd = -1;
        const std::vector<Event> events = g_events;
        // A kill lands between two system calls: the file holds `before` and the first k of them.
        // The same writes as the default driver issues them: by address, the superblock last.
        std::vector<Event> by_address = events;
        std::stable_sort(by_address.begin() + 1, by_address.end(), [](const Event& a, const Event& b) {
            const auto key = [](const Event& e) {
                return e.resize ? ~off_t{0} >> 1 : e.offset == 0 ? ~off_t{0} >> 2 : e.offset;
            };
            return key(a) < key(b);
        });
        std::vector<std::string> states, unraised, unordered;
        for (std::size_t k = 0; k <= events.size(); ++k) {
            const std::string name = dir + "/midflush_" + std::to_string(round) + "_" + std::to_string(k) + ".h5";
            write_bytes(name, apply(before, events, k, 0));
            states.push_back(name);
            // The same kill without the raised EOA (the first call), or with the writes in address order.
            if (k >= 1) {
                write_bytes(name + ".unraised", apply(before, events, k, 1));
                unraised.push_back(name + ".unraised");
                write_bytes(name + ".unordered", apply(before, by_address, k, 0));
                unordered.push_back(name + ".unordered");
            }
        }
        INFO("round " << round << ": " << events.size() << " calls in the flush");
        REQUIRE(events.size() > 3);
        REQUIRE(!events[0].resize);
        REQUIRE(events[0].offset == 28);  // the raise: the EOA and the checksum, one call
        REQUIRE(events[0].bytes.size() == 20);
        CHECK(unreadable_with_h5py(states).empty());
        // The check sees the failures it guards against: without the raise, or in the default driver's
        // order, some state does not read.
        CHECK_FALSE(unreadable_with_h5py(unraised).empty());
        CHECK_FALSE(unreadable_with_h5py(unordered).empty());
        for (const auto* list : {&states, &unraised, &unordered})
            for (const auto& s : *list) std::remove(s.c_str());
    }
    CHECK(h5::flushes_past_stored_eoa() == overruns);
    f.commit();
}
