#pragma once
// Running a shell command, or the built `rmaat` (RMAAT_CLI, set by rmaat_test(... CLI ...)), from a test:
// its exit status (-1 when killed by a signal) and its standard output and error together; starting
// `rmaat` in the background; the files a test writes and removes.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

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

inline bool exists(const std::string& path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0;
}

// Writes `text` to dir/name (dir created when missing); the path.
inline std::string write_in(const std::string& dir, const std::string& name, const std::string& text) {
    mkdir(dir.c_str(), 0755);
    const std::string path = dir + "/" + name;
    std::ofstream(path) << text;
    return path;
}

// Removes a training run's files: the run file, working files, checkpoint, generated data.
inline void clean_run(const std::string& out) {
    shell("rm -rf '" + out + "' '" + out + "'.partial.* '" + out + ".ckpt' '" + out + "'.ckpt.partial.* '" + out +
          ".data'");
}

#ifdef RMAAT_CLI
// `rmaat ARGS` (the arguments as one shell word list).
inline Result run(const std::string& args) {
    return shell(std::string(RMAAT_CLI) + " " + args);
}

// `rmaat ARGS` in the background, standard output and error to `log`, with `env` ("NAME=value") added.
inline pid_t start(const std::vector<std::string>& args, const std::string& log,
                   const std::vector<std::string>& env = {}) {
    const pid_t pid = fork();
    if (pid == 0) {
        const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        for (const auto& kv : env) putenv(const_cast<char*>(kv.c_str()));
        std::vector<char*> argv{const_cast<char*>(RMAAT_CLI)};
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        execv(RMAAT_CLI, argv.data());
        _exit(127);
    }
    return pid;
}
#endif

}  // namespace rmaat::testing
