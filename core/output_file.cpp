#include "core/output_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>

#include <fmt/format.h>

namespace rmaat {

std::string unique_partial_path(const std::string& final_path) {
    std::random_device rd;
    return fmt::format("{}.partial.{}.{:08x}", final_path, static_cast<long>(getpid()), rd());
}

namespace {

InputError exists_error(const std::string& work, const std::string& final_path) {
    return InputError(
        fmt::format("'{}' appeared while this run wrote '{}' (another run writing the same output?): it is not "
                    "replaced; pass --force to replace it",
                    final_path, work));
}

WriteError publish_error(const std::string& work, const std::string& final_path, int err) {
    return WriteError(fmt::format("cannot rename '{}' to '{}': {}", work, final_path, std::strerror(err)));
}

}  // namespace

void publish(const std::string& work, const std::string& final_path, Replace replace) {
    if (replace == Replace::yes) {
        if (std::rename(work.c_str(), final_path.c_str()) != 0) throw publish_error(work, final_path, errno);
        return;
    }
#ifdef RENAME_NOREPLACE
    if (renameat2(AT_FDCWD, work.c_str(), AT_FDCWD, final_path.c_str(), RENAME_NOREPLACE) == 0) return;
    if (errno == EEXIST) throw exists_error(work, final_path);
    // EINVAL / ENOSYS: the file system or kernel lacks RENAME_NOREPLACE; link() below is atomic too.
    if (errno != EINVAL && errno != ENOSYS) throw publish_error(work, final_path, errno);
#endif
    if (link(work.c_str(), final_path.c_str()) != 0) {
        if (errno == EEXIST) throw exists_error(work, final_path);
        throw publish_error(work, final_path, errno);
    }
    unlink(work.c_str());
}

FileId check_same_file(const std::string& path, int fd) {
    struct stat by_path {
    }, by_fd{};
    if (lstat(path.c_str(), &by_path) != 0 || fstat(fd, &by_fd) != 0)
        throw WriteError(fmt::format("cannot check '{}': {}", path, std::strerror(errno)));
    if (!S_ISREG(by_path.st_mode) || by_path.st_dev != by_fd.st_dev || by_path.st_ino != by_fd.st_ino)
        throw WriteError(
            fmt::format("'{}' is no longer the file this run created (replaced by another file or a "
                        "symlink): not using it",
                        path));
    return {by_fd.st_dev, by_fd.st_ino};
}

namespace {

// Writes all of `text` to fd, retrying short writes; false with errno set on failure.
bool write_all(int fd, const std::string& text) {
    const char* p = text.data();
    size_t left = text.size();
    while (left > 0) {
        const ssize_t n = ::write(fd, p, left);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        p += n;
        left -= static_cast<size_t>(n);
    }
    return true;
}

}  // namespace

TextOutput::TextOutput(std::string path, const std::string& text)
    : path_(std::move(path)), work_(unique_partial_path(path_)) {
    const int fd = open(work_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0) throw WriteError(fmt::format("cannot create '{}': {}", work_, std::strerror(errno)));
    // fsync: the data reaches the disk before the rename makes the file visible under its final name.
    const bool ok = write_all(fd, text) && fsync(fd) == 0;
    const int err = errno;
    if (close(fd) != 0 || !ok) {
        const int reason = ok ? errno : err;
        unlink(work_.c_str());
        throw WriteError(fmt::format("cannot write '{}': {}", path_, std::strerror(reason)));
    }
}

TextOutput::~TextOutput() {
    if (!committed_) unlink(work_.c_str());
}

void TextOutput::commit(Replace replace) {
    publish(work_, path_, replace);
    committed_ = true;
}

void write_text_file(const std::string& path, const std::string& text, Replace replace) {
    TextOutput out(path, text);
    out.commit(replace);
}

}  // namespace rmaat
