#pragma once
// The task registry (docs/design.md section 6.3): one row per task with its reader and, where the
// data cannot be downloaded here, its generator. `rmaat data generate|inspect` and the trainer find
// a task by name through these functions; the table itself is kTasks in tasks/registry.cpp, so adding
// a task is one row there:
//
//   {{read_fn, scan_fn, generate_fn, guess_fn, reads_directories}, "name", "one-line help"},
//                                                             // nullptr: not available
//
//   Dataset d = read_task("listops", "lra_release/listops-1000/basic_train.tsv");
//   GenerateOptions o; o.out_dir = "data/listops-mini"; o.seed = 3;
//   GenerateResult r = generate_task("listops-mini", o);      // data/listops-mini/mini_{train,val,test}.tsv
#include <cstdint>
#include <string>
#include <vector>

#include "tasks/dataset.hpp"

namespace rmaat::tasks {

// Problems a lenient read (`rmaat data inspect`) found: every one is counted, the first `keep`
// messages ("file:line: reason") are kept.
struct ReadProblems {
    int64_t count = 0;
    std::vector<std::string> first;
    size_t keep = 10;
    void add(std::string message);
};

// What `rmaat data generate TASK` asks a generator for. Counts of -1 take the task's defaults.
struct GenerateOptions {
    std::string out_dir;
    int64_t n_train = -1, n_val = -1, n_test = -1;
    uint64_t seed = 1;
    std::string variant;  // "" = the task's default variant
    bool force = false;   // overwrite existing files
    bool progress = true;
};

struct GenerateResult {
    std::vector<std::string> files;  // written, in split order (train, val, test)
    std::vector<int64_t> counts;     // examples per file
};

// A row's functions; nullptr where the task lacks one.
struct TaskFns {
    Dataset (*read)(const std::string& path);  // strict: DataError at the first problem
    // Lenient (inspect): malformed rows and wrong labels are recorded and skipped; a file that cannot
    // be read at all (missing, empty, wrong header) still throws.
    Dataset (*scan)(const std::string& path, ReadProblems& problems);
    GenerateResult (*generate)(const GenerateOptions& options);
    bool (*guess)(const std::string& path);  // true when the file looks like this task's (name, header)
    bool reads_directories = false;          // a directory can be this task's data, read whole
};

// The row called `name`; InputError "unknown task "x" (known: ...)" otherwise.
const TaskFns& find_task(const std::string& name);
std::vector<std::string> task_names();
std::string tasks_help();  // one line per task: "  name  help"

Dataset read_task(const std::string& task, const std::string& path);
// `scan` where the task has one; otherwise `read` (which throws at the first problem).
Dataset scan_task(const std::string& task, const std::string& path, ReadProblems& problems);
// InputError when the task has no generator.
GenerateResult generate_task(const std::string& task, const GenerateOptions& options);
// The first task whose `guess` accepts the file; "" when none does.
std::string guess_task(const std::string& path);

}  // namespace rmaat::tasks
