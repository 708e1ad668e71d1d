#pragma once
// Output files that appear complete under their final name or not at all (docs/design.md section 7.3,
// crash safety).
//
// An output is written under a name of its own, "<final>.partial.<pid>.<8 hex digits>", created
// exclusively (O_CREAT | O_EXCL | O_NOFOLLOW: never an existing file, never through a symlink), so two
// runs writing the same output never share, truncate or follow each other's temporary file. publish()
// then renames it to the final name without replacing a file that appeared meanwhile (renameat2 with
// RENAME_NOREPLACE; link + unlink where the file system lacks it), unless the caller allows replacing
// (--force).
#include <sys/stat.h>

#include <string>

#include "core/error.hpp"

namespace rmaat {

// A write that failed: full disk, I/O error, file size limit. Valid input, failed run (exit 1). The
// message names the file and the operating system's (or HDF5's) reason.
struct WriteError : RunError {
    using RunError::RunError;
};

// Whether publishing may replace a file that exists under the final name.
enum class Replace { no, yes };

// "<final>.partial.<pid>.<8 hex digits>": a name no other call (in any process) returns.
std::string unique_partial_path(const std::string& final_path);

// Moves `work` to `final_path`. With Replace::no, a file under final_path (however it got there) is not
// replaced: InputError naming both paths, `work` is left as it is. Other failures are WriteErrors.
void publish(const std::string& work, const std::string& final_path, Replace replace);

// The identity of a file (device and inode), to check that a path still names the file created.
struct FileId {
    dev_t dev = 0;
    ino_t ino = 0;
};

// Checks that `path` is a regular file (not a symlink) and the one open as `fd`; WriteError otherwise.
FileId check_same_file(const std::string& path, int fd);

// A text output written completely under its own temporary name first (exclusively, as above), then
// published by commit(). Without commit() the temporary file is removed.
class TextOutput {
public:
    // Writes `text` to a fresh temporary file next to `path`; WriteError names it and the reason.
    TextOutput(std::string path, const std::string& text);
    TextOutput(const TextOutput&) = delete;
    TextOutput& operator=(const TextOutput&) = delete;
    ~TextOutput();
    void commit(Replace replace);
    const std::string& path() const { return path_; }
    const std::string& working_path() const { return work_; }

private:
    std::string path_, work_;
    bool committed_ = false;
};

// TextOutput in one call.
void write_text_file(const std::string& path, const std::string& text, Replace replace);

}  // namespace rmaat
