/* An LD_PRELOAD library that kills its process with SIGKILL at one chosen system call, so a test can
 * stop a run at an exact point inside a file write (a checkpoint's pwrite, a publishing rename) instead
 * of at a moment picked by a timer.
 *
 *   RMAAT_KILL_AT="pwrite:<pattern>:<n>"   before the n-th pwrite into a file whose path matches
 *   RMAAT_KILL_AT="rename:<pattern>:<n>"   before the n-th rename (rename, renameat, renameat2, link)
 *                                          whose target path matches
 *   <pattern>: a substring of the path; a trailing '$' anchors it at the end. n counts from 1 and
 *   n = 0 never kills: the process then prints "kill_at: <op> <pattern> <count>" to stderr at exit,
 *   the number of matching calls it made (a test sizes its kill points from it).
 *
 * The calls before the n-th run normally. Only the tests use it (tests/CMakeLists.txt). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char op_[16];
static char pattern_[256];
static long target_ = -1; /* -1: not configured */
static long count_;

static void configure(void) {
    static int done;
    if (done) return;
    done = 1;
    const char* spec = getenv("RMAAT_KILL_AT");
    if (!spec) return;
    const char* a = strchr(spec, ':');
    const char* b = a ? strrchr(spec, ':') : NULL;
    if (!a || b == a || (size_t)(a - spec) >= sizeof op_ || (size_t)(b - a - 1) >= sizeof pattern_) {
        fprintf(stderr, "kill_at: RMAAT_KILL_AT='%s' is not <op>:<pattern>:<n>\n", spec);
        _exit(90);
    }
    memcpy(op_, spec, (size_t)(a - spec));
    memcpy(pattern_, a + 1, (size_t)(b - a - 1));
    target_ = strtol(b + 1, NULL, 10);
}

static int matches(const char* path) {
    size_t n = strlen(pattern_);
    if (n > 0 && pattern_[n - 1] == '$') {
        const size_t len = strlen(path);
        --n;
        return len >= n && memcmp(path + len - n, pattern_, n) == 0;
    }
    return strstr(path, pattern_) != NULL;
}

static void report(void) {
    if (target_ == 0) fprintf(stderr, "kill_at: %s %s %ld\n", op_, pattern_, count_);
}

/* Counts a call of `op` on `path`; kills the process when it is the chosen one. */
static void hit(const char* op, const char* path) {
    configure();
    if (target_ < 0 || strcmp(op, op_) != 0 || !matches(path)) return;
    if (++count_ == 1 && target_ == 0) atexit(report);
    if (count_ == target_) raise(SIGKILL);
}

static void hit_fd(int fd) {
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    const ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0) return;
    path[n] = '\0';
    hit("pwrite", path);
}

/* The next definition of `name` (libc's); POSIX's way round ISO C's ban on casting void* to a function. */
#define NEXT(name) (*next_##name())
#define DEFINE_NEXT(name)                        \
    static name##_fn* next_##name(void) {        \
        static name##_fn fn;                     \
        if (!fn) {                               \
            void* sym = dlsym(RTLD_NEXT, #name); \
            memcpy(&fn, &sym, sizeof fn);        \
        }                                        \
        return &fn;                              \
    }

typedef ssize_t (*pwrite_fn)(int, const void*, size_t, off_t);
typedef ssize_t (*pwrite64_fn)(int, const void*, size_t, off_t);
typedef int (*rename_fn)(const char*, const char*);
typedef int (*renameat_fn)(int, const char*, int, const char*);
typedef int (*renameat2_fn)(int, const char*, int, const char*, unsigned);
typedef int (*link_fn)(const char*, const char*);
DEFINE_NEXT(pwrite)
DEFINE_NEXT(pwrite64)
DEFINE_NEXT(rename)
DEFINE_NEXT(renameat)
DEFINE_NEXT(renameat2)
DEFINE_NEXT(link)

ssize_t pwrite(int fd, const void* buf, size_t n, off_t off) {
    hit_fd(fd);
    return NEXT(pwrite)(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void* buf, size_t n, off_t off) {
    hit_fd(fd);
    return NEXT(pwrite64)(fd, buf, n, off);
}

int rename(const char* from, const char* to) {
    hit("rename", to);
    return NEXT(rename)(from, to);
}

int renameat(int a, const char* from, int b, const char* to) {
    hit("rename", to);
    return NEXT(renameat)(a, from, b, to);
}

int renameat2(int a, const char* from, int b, const char* to, unsigned flags) {
    hit("rename", to);
    return NEXT(renameat2)(a, from, b, to, flags);
}

int link(const char* from, const char* to) {
    hit("rename", to);
    return NEXT(link)(from, to);
}
