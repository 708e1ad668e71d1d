#include "tasks/registry.hpp"

#include <fmt/format.h>

#include "core/choices.hpp"
#include "tasks/listops.hpp"

namespace rmaat::tasks {

namespace {

GenerateResult generate_listops_mini(const GenerateOptions& o) {
    if (!o.variant.empty() && o.variant != "mini")
        throw InputError(
            fmt::format("task listops-mini: --variant {} (it is the mini variant; for the full one use "
                        "the task listops)",
                        o.variant));
    GenerateOptions m = o;
    m.variant = "mini";
    return generate_listops_files(m);
}

// One row per task (docs/design.md section 6.3): {{read, scan, generate, guess}, name, help}.
// Captureless lambdas adapt shared readers; nullptr where a task has no such function.
constexpr Choice<TaskFns> kTaskRows[] = {
    {{[](const std::string& p) { return read_listops_tsv_as(p, "listops"); },
      [](const std::string& p, ReadProblems& r) { return scan_listops_tsv_as(p, "listops", r); },
      generate_listops_files, [](const std::string& p) { return looks_like_listops(p, "basic"); }},
     "listops",
     "LRA ListOps: basic_{train,val,test}.tsv (Source<TAB>Target); generator: lengths in (500, 2000), 96k/2k/2k"},
    {{[](const std::string& p) { return read_listops_tsv_as(p, "listops-mini"); },
      [](const std::string& p, ReadProblems& r) { return scan_listops_tsv_as(p, "listops-mini", r); },
      generate_listops_mini, [](const std::string& p) { return looks_like_listops(p, "mini"); }},
     "listops-mini",
     "ListOps with lengths in (20, 100) for CPU runs: mini_{train,val,test}.tsv, 10k/1k/1k"},
};
constexpr ChoiceTable kTasks{"task", kTaskRows};

}  // namespace

void ReadProblems::add(std::string message) {
    ++count;
    if (first.size() < keep) first.push_back(std::move(message));
}

const TaskFns& find_task(const std::string& name) {
    for (const auto& row : kTasks)
        if (name == row.name) return row.value;
    kTasks.parse(name);  // throws the "unknown task ... (known: ...)" InputError
    throw InputError("unknown task " + name);
}

std::vector<std::string> task_names() {
    return kTasks.names();
}

std::string tasks_help() {
    return kTasks.help();
}

Dataset read_task(const std::string& task, const std::string& path) {
    const TaskFns& t = find_task(task);
    if (!t.read) throw InputError(fmt::format("task {} has no reader", task));
    return t.read(path);
}

Dataset scan_task(const std::string& task, const std::string& path, ReadProblems& problems) {
    const TaskFns& t = find_task(task);
    if (t.scan) return t.scan(path, problems);
    return read_task(task, path);
}

GenerateResult generate_task(const std::string& task, const GenerateOptions& options) {
    const TaskFns& t = find_task(task);
    if (!t.generate) throw InputError(fmt::format("task {} has no generator: read its published files instead", task));
    return t.generate(options);
}

std::string guess_task(const std::string& path) {
    for (const auto& row : kTasks)
        if (row.value.guess && row.value.guess(path)) return row.name;
    return "";
}

}  // namespace rmaat::tasks
