#include "trainer/launch.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/interrupt.hpp"
#include "core/log.hpp"

namespace rmaat::trainer {

namespace {

std::string self_path() {
    char buf[4096];
    const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0)
        throw RunError(fmt::format("--nproc: cannot find this program (/proc/self/exe): {}", std::strerror(errno)));
    return std::string(buf, static_cast<size_t>(n));
}

int exit_code(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 1;
}

}  // namespace

int launch_local(int nproc, const std::vector<std::string>& rank_args, double grace_s) {
    if (nproc < 1) throw InputError(fmt::format("--nproc {}: at least 1", nproc));
    const std::string exe = self_path();
    char tmpl[] = "/tmp/rmaat-store.XXXXXX";
    if (!mkdtemp(tmpl)) throw RunError(fmt::format("--nproc: cannot make a store directory: {}", std::strerror(errno)));
    const std::string dir = tmpl, store = dir + "/store";
    std::vector<pid_t> pids;
    const pid_t launcher = getpid();
    // [train] threads = 0 means torch's default, all cores, in every rank: N ranks would oversubscribe the
    // machine N times. Unless the user set it, each rank's default is its share (as torchrun does).
    const bool set_threads = std::getenv("OMP_NUM_THREADS") == nullptr;
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    const std::string share = std::to_string(std::max(1u, cores / static_cast<unsigned>(nproc)));
    if (set_threads)
        log::info("each rank's default thread count: {} (OMP_NUM_THREADS; {} cores / {} ranks)", share, cores, nproc);
    for (int r = 0; r < nproc; ++r) {
        const pid_t pid = fork();
        if (pid < 0) {
            for (const pid_t p : pids) {
                kill(p, SIGKILL);
                waitpid(p, nullptr, 0);
            }
            unlink(store.c_str());
            rmdir(dir.c_str());
            throw RunError(fmt::format("--nproc: fork failed: {}", std::strerror(errno)));
        }
        if (pid == 0) {
            setpgid(0, 0);                     // Ctrl-C reaches the launcher only; it forwards once
            prctl(PR_SET_PDEATHSIG, SIGTERM);  // the launcher gone: checkpoint and stop
            if (getppid() != launcher) _exit(1);
            setenv("RANK", std::to_string(r).c_str(), 1);
            setenv("LOCAL_RANK", std::to_string(r).c_str(), 1);
            setenv("WORLD_SIZE", std::to_string(nproc).c_str(), 1);
            setenv("RMAAT_STORE_FILE", store.c_str(), 1);
            if (set_threads) setenv("OMP_NUM_THREADS", share.c_str(), 1);
            std::vector<char*> argv{const_cast<char*>(exe.c_str())};
            for (const auto& a : rank_args) argv.push_back(const_cast<char*>(a.c_str()));
            argv.push_back(nullptr);
            execv(exe.c_str(), argv.data());
            std::fprintf(stderr, "rmaat: error: --nproc: cannot run %s: %s\n", exe.c_str(), std::strerror(errno));
            _exit(127);
        }
        pids.push_back(pid);
    }
    log::info("launched {} ranks (pids {}..{}; store {})", nproc, pids.front(), pids.back(), store);
    using Clock = std::chrono::steady_clock;
    std::vector<int> codes(pids.size(), -1);
    int first_failure = 0, forwarded = 0;
    size_t running = pids.size();
    Clock::time_point kill_at{};
    bool killing = false;
    while (running > 0) {
        for (size_t i = 0; i < pids.size(); ++i) {
            if (codes[i] >= 0) continue;
            int status = 0;
            const pid_t w = waitpid(pids[i], &status, WNOHANG);
            if (w != pids[i]) continue;
            codes[i] = exit_code(status);
            --running;
            if (codes[i] != 0 && first_failure == 0) {
                first_failure = codes[i];
                // After a forwarded stop the others are stopping already: a second signal would end
                // them at once, perhaps inside rank 0's checkpoint write, so only the grace timer runs.
                if (!forwarded) {
                    log::error("rank {} failed (exit {}); stopping the other ranks", i, codes[i]);
                    for (size_t j = 0; j < pids.size(); ++j)
                        if (codes[j] < 0) kill(pids[j], SIGTERM);
                }
                killing = true;
                kill_at = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(grace_s * 1000));
            }
        }
        if (const int sig = stop_signal(); sig && !forwarded) {  // forwarded once to every rank
            forwarded = sig;
            for (size_t j = 0; j < pids.size(); ++j)
                if (codes[j] < 0) kill(pids[j], sig);
        }
        if (killing && Clock::now() > kill_at) {
            for (size_t j = 0; j < pids.size(); ++j)
                if (codes[j] < 0) kill(pids[j], SIGKILL);
            killing = false;
        }
        if (running > 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    unlink(store.c_str());
    rmdir(dir.c_str());
    return first_failure;
}

}  // namespace rmaat::trainer
