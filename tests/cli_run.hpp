#pragma once
// Running a shell command, or the built `rmaat` (RMAAT_CLI, set by rmaat_test(... CLI ...)), from a test:
// its exit status (-1 when killed by a signal) and its standard output and error together.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <memory>
#include <string>

namespace rmaat::testing {

struct Result {
    int code;
    std::string output;  // stdout and stderr
};

inline Result shell(const std::string& command) {
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen((command + " 2>&1").c_str(), "r"), pclose);
    std::string out;
    std::array<char, 4096> buf{};
    while (fgets(buf.data(), buf.size(), pipe.get())) out += buf.data();
    const int status = pclose(pipe.release());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

#ifdef RMAAT_CLI
// `rmaat ARGS` (the arguments as one shell word list).
inline Result run(const std::string& args) {
    return shell(std::string(RMAAT_CLI) + " " + args);
}
#endif

}  // namespace rmaat::testing
