#include "core/input_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "core/error.hpp"

namespace rmaat {

namespace {

const char* kind_of(mode_t m) {
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    return "not a regular file";
}

struct Fd {
    int fd;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

std::string size_text(std::uint64_t bytes) {
    return bytes >= (1u << 20) ? fmt::format("{} MiB", bytes >> 20) : fmt::format("{} bytes", bytes);
}

}  // namespace

std::string read_regular_file(const std::string& path, std::uint64_t max_bytes, std::string_view what) {
    const Fd f{::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)};
    if (f.fd < 0) throw InputError(fmt::format("{}: cannot open {}: {}", path, what, std::strerror(errno)));
    struct stat st {};
    if (::fstat(f.fd, &st) != 0)
        throw InputError(fmt::format("{}: cannot stat {}: {}", path, what, std::strerror(errno)));
    if (!S_ISREG(st.st_mode))
        throw InputError(fmt::format("{}: {} must be a regular file, this is {}", path, what, kind_of(st.st_mode)));
    if (static_cast<std::uint64_t>(st.st_size) > max_bytes)
        throw InputError(fmt::format("{}: {} of {} bytes is larger than the limit of {}", path, what, st.st_size,
                                     size_text(max_bytes)));
    // Read to the end, but never past the bound: the file may grow while it is read.
    std::string text;
    text.resize(static_cast<std::size_t>(st.st_size));
    std::size_t used = 0;
    for (;;) {
        if (used == text.size()) {
            if (text.size() > max_bytes)
                throw InputError(fmt::format("{}: {} grew past the limit of {} while it was read", path, what,
                                             size_text(max_bytes)));
            text.resize(std::min<std::uint64_t>(max_bytes + 1, text.size() + 65536));
        }
        const ssize_t n = ::read(f.fd, &text[used], text.size() - used);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw InputError(fmt::format("{}: cannot read {}: {}", path, what, std::strerror(errno)));
        if (n == 0) break;
        used += static_cast<std::size_t>(n);
    }
    text.resize(used);
    return text;
}

}  // namespace rmaat
