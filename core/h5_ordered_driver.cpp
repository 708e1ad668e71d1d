// The ordered POSIX file driver; see the header.
#include "core/h5_ordered_driver.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "core/output_file.hpp"

namespace rmaat::h5 {

#if H5_VERS_MAJOR == 1 && H5_VERS_MINOR == 10

namespace {

struct HeldWrite {
    haddr_t addr;
    std::vector<unsigned char> bytes;
};

struct State {
    bool holding = false;
    bool truncate_pending = false;
    std::vector<HeldWrite> held;
};

// Standard layout, HDF5's part first: the library hands back &pub, get_handle hands out &fd.
struct OrderedFile {
    H5FD_t pub;
    int fd;
    dev_t device;
    ino_t inode;
    haddr_t eoa;
    haddr_t eof;
    State* state;
};

constexpr haddr_t kMaxAddr = (haddr_t(1) << (8 * sizeof(off_t) - 1)) - 1;

OrderedFile* of(H5FD_t* f) {
    return reinterpret_cast<OrderedFile*>(f);
}
const OrderedFile* of(const H5FD_t* f) {
    return reinterpret_cast<const OrderedFile*>(f);
}

// Errors in the form the sec2 driver reports them, which library_reason() reads the OS reason from.
herr_t fail(const char* what, const char* name, int err) {
    H5Epush2(H5E_DEFAULT, __FILE__, what, __LINE__, H5E_ERR_CLS, H5E_IO, H5E_WRITEERROR,
             "%s failed: file = '%s', errno = %d, error message = '%s'", what, name, err, std::strerror(err));
    return -1;
}

H5FD_t* ordered_open(const char* name, unsigned flags, hid_t, haddr_t maxaddr) {
    if (!name || !*name || maxaddr == 0 || maxaddr == HADDR_UNDEF || maxaddr > kMaxAddr) return nullptr;
    int o = (flags & H5F_ACC_RDWR) ? O_RDWR : O_RDONLY;
    if (flags & H5F_ACC_TRUNC) o |= O_TRUNC;
    if (flags & H5F_ACC_CREAT) o |= O_CREAT;
    if (flags & H5F_ACC_EXCL) o |= O_EXCL;
    const int fd = ::open(name, o | O_CLOEXEC, 0666);
    if (fd < 0) {
        const int err = errno;
        H5Epush2(H5E_DEFAULT, __FILE__, "ordered_open", __LINE__, H5E_ERR_CLS, H5E_FILE, H5E_CANTOPENFILE,
                 "unable to open file: name = '%s', errno = %d, error message = '%s'", name, err, std::strerror(err));
        return nullptr;
    }
    struct stat st {};
    if (fstat(fd, &st) != 0) {
        fail("fstat", name, errno);
        ::close(fd);
        return nullptr;
    }
    auto* f = new OrderedFile{};
    f->fd = fd;
    f->device = st.st_dev;
    f->inode = st.st_ino;
    f->eof = static_cast<haddr_t>(st.st_size);
    f->state = new State;
    return &f->pub;
}

herr_t ordered_close(H5FD_t* file) {
    OrderedFile* f = of(file);
    const int rc = ::close(f->fd);
    delete f->state;
    delete f;
    return rc == 0 ? 0 : -1;
}

int ordered_cmp(const H5FD_t* a, const H5FD_t* b) {
    const OrderedFile *x = of(a), *y = of(b);
    if (x->device != y->device) return x->device < y->device ? -1 : 1;
    if (x->inode != y->inode) return x->inode < y->inode ? -1 : 1;
    return 0;
}

herr_t ordered_query(const H5FD_t*, unsigned long* flags) {
    // No H5FD_FEAT_ACCUMULATE_METADATA: every metadata entry is a write of its own, so step 2 of the
    // header never writes half of an entry.
    *flags = H5FD_FEAT_AGGREGATE_METADATA | H5FD_FEAT_DATA_SIEVE | H5FD_FEAT_AGGREGATE_SMALLDATA |
             H5FD_FEAT_POSIX_COMPAT_HANDLE | H5FD_FEAT_DEFAULT_VFD_COMPATIBLE |
             H5FD_FEAT_SUPPORTS_SWMR_IO;  // H5Fget_eoa asks for it; nothing here uses SWMR
    return 0;
}

haddr_t ordered_get_eoa(const H5FD_t* f, H5FD_mem_t) {
    return of(f)->eoa;
}
herr_t ordered_set_eoa(H5FD_t* f, H5FD_mem_t, haddr_t addr) {
    of(f)->eoa = addr;
    return 0;
}
haddr_t ordered_get_eof(const H5FD_t* f, H5FD_mem_t) {
    return of(f)->eof;
}
herr_t ordered_get_handle(H5FD_t* f, hid_t, void** handle) {
    *handle = &of(f)->fd;
    return 0;
}

// 0, or the errno of the failed write.
int write_through(OrderedFile* f, haddr_t addr, const unsigned char* p, size_t size) {
    while (size > 0) {
        const ssize_t n = pwrite(f->fd, p, size, static_cast<off_t>(addr));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return n < 0 ? errno : EIO;
        p += n, addr += static_cast<haddr_t>(n), size -= static_cast<size_t>(n);
    }
    f->eof = std::max(f->eof, addr);
    return 0;
}

// Accesses beyond the end of allocated space are the library's error, reported as sec2 reports them.
bool in_range(const OrderedFile* f, haddr_t addr, size_t size, const char* what) {
    if (addr != HADDR_UNDEF && addr + size <= f->eoa) return true;
    H5Epush2(H5E_DEFAULT, __FILE__, what, __LINE__, H5E_ERR_CLS, H5E_ARGS, H5E_OVERFLOW,
             "addr overflow, addr = %llu, size = %llu, eoa = %llu", (unsigned long long)addr, (unsigned long long)size,
             (unsigned long long)f->eoa);
    return false;
}

herr_t ordered_read(H5FD_t* file, H5FD_mem_t, hid_t, haddr_t addr, size_t size, void* buf) {
    OrderedFile* f = of(file);
    if (!in_range(f, addr, size, "ordered_read")) return -1;
    auto* p = static_cast<unsigned char*>(buf);
    const haddr_t start = addr;
    size_t left = size;
    while (left > 0) {
        const ssize_t n = pread(f->fd, p, left, static_cast<off_t>(addr));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail("pread", "", errno);
        if (n == 0) {  // beyond the end of the file: zeros, as sec2 reads them
            std::memset(p, 0, left);
            break;
        }
        p += n, addr += static_cast<haddr_t>(n), left -= static_cast<size_t>(n);
    }
    // Writes held for this flush are newer than the file.
    for (const HeldWrite& w : f->state->held) {
        const haddr_t lo = std::max(start, w.addr), hi = std::min<haddr_t>(start + size, w.addr + w.bytes.size());
        if (lo < hi)
            std::memcpy(static_cast<unsigned char*>(buf) + (lo - start), w.bytes.data() + (lo - w.addr), hi - lo);
    }
    return 0;
}

herr_t ordered_write(H5FD_t* file, H5FD_mem_t, hid_t, haddr_t addr, size_t size, const void* buf) {
    OrderedFile* f = of(file);
    if (!in_range(f, addr, size, "ordered_write")) return -1;
    const auto* p = static_cast<const unsigned char*>(buf);
    if (!f->state->holding) {
        const int err = write_through(f, addr, p, size);
        return err ? fail("pwrite", "", err) : 0;
    }
    f->state->held.push_back({addr, std::vector<unsigned char>(p, p + size)});
    return 0;
}

herr_t truncate_to_eoa(OrderedFile* f) {
    if (f->eoa == f->eof) return 0;
    if (ftruncate(f->fd, static_cast<off_t>(f->eoa)) != 0) return fail("ftruncate", "", errno);
    f->eof = f->eoa;
    return 0;
}

herr_t ordered_truncate(H5FD_t* file, hid_t, hbool_t) {
    OrderedFile* f = of(file);
    if (f->state->holding) {
        f->state->truncate_pending = true;  // after the held writes: the superblock on disk may need the length
        return 0;
    }
    return truncate_to_eoa(f);
}

const H5FD_class_t kOrderedClass = {"rmaat_ordered",
                                    kMaxAddr,
                                    H5F_CLOSE_WEAK,
                                    nullptr,
                                    nullptr,
                                    nullptr,
                                    nullptr,
                                    0,
                                    nullptr,
                                    nullptr,
                                    nullptr,
                                    0,
                                    nullptr,
                                    nullptr,
                                    ordered_open,
                                    ordered_close,
                                    ordered_cmp,
                                    ordered_query,
                                    nullptr,
                                    nullptr,
                                    nullptr,
                                    ordered_get_eoa,
                                    ordered_set_eoa,
                                    ordered_get_eof,
                                    ordered_get_handle,
                                    ordered_read,
                                    ordered_write,
                                    nullptr,
                                    ordered_truncate,
                                    nullptr,
                                    nullptr,
                                    H5FD_FLMAP_DICHOTOMY};

hid_t driver_id() {
    static const hid_t id = H5FDregister(&kOrderedClass);
    return id;
}

// The driver's view of an open file on this driver; nullptr for a file on another one.
OrderedFile* ordered(hid_t file) {
    const hid_t fapl = H5Fget_access_plist(file);
    if (fapl < 0) return nullptr;
    const bool ours = H5Pget_driver(fapl) == driver_id();
    H5Pclose(fapl);
    int* fd = nullptr;
    if (!ours || H5Fget_vfd_handle(file, H5P_DEFAULT, reinterpret_cast<void**>(&fd)) < 0 || !fd) return nullptr;
    return reinterpret_cast<OrderedFile*>(reinterpret_cast<char*>(fd) - offsetof(OrderedFile, fd));
}

}  // namespace

bool use_ordered_driver(hid_t fapl) {
    const hid_t id = driver_id();
    return id >= 0 && H5Pset_driver(fapl, id, nullptr) >= 0;
}

void hold_writes(hid_t file) {
    if (OrderedFile* f = ordered(file)) f->state->holding = true;
}

void write_held(hid_t file, std::uint64_t stored_eoa, const std::string& path) {
    OrderedFile* f = ordered(file);
    if (!f) return;
    State& s = *f->state;
    std::vector<HeldWrite> held = std::move(s.held);
    const bool truncate = s.truncate_pending;
    s = State{};
    auto put = [&](const HeldWrite& w) {
        if (const int err = write_through(f, w.addr, w.bytes.data(), w.bytes.size()))
            throw WriteError(fmt::format("cannot write '{}': {}", path, std::strerror(err)));
    };
    for (const HeldWrite& w : held)  // 1. new space
        if (w.addr != 0 && w.addr >= stored_eoa) put(w);
    for (const HeldWrite& w : held)  // 2. rewrites in place
        if (w.addr != 0 && w.addr < stored_eoa) put(w);
    for (const HeldWrite& w : held)  // 3. the superblock
        if (w.addr == 0) put(w);
    if (truncate && f->eoa != f->eof) {  // 4.
        if (ftruncate(f->fd, static_cast<off_t>(f->eoa)) != 0)
            throw WriteError(fmt::format("cannot write '{}': {}", path, std::strerror(errno)));
        f->eof = f->eoa;
    }
}

#else  // another HDF5 version: the default driver, no ordering

bool use_ordered_driver(hid_t) {
    return false;
}
void hold_writes(hid_t) {}
void write_held(hid_t, std::uint64_t, const std::string&) {}

#endif

}  // namespace rmaat::h5
