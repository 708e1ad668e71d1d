// `rmaat data generate|inspect` (docs/design.md section 6.3): write a task's splits with its
// generator; summarise data files (counts, label histogram, lengths, the first problems found).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <numeric>

#include "cli/commands.hpp"
#include "core/log.hpp"
#include "tasks/registry.hpp"

namespace rmaat::cli {

namespace {

namespace fs = std::filesystem;
using tasks::Dataset;

std::string known_tasks() {
    std::string s;
    for (const auto& n : tasks::task_names()) s += (s.empty() ? "" : ", ") + n;
    return s;
}

struct GenerateArgs {
    std::string task, out, variant;
    int64_t n_train = -1, n_val = -1, n_test = -1;
    uint64_t seed = 1;
    bool force = false;
};

void generate(const GenerateArgs& a) {
    tasks::GenerateOptions o;
    o.out_dir = a.out;
    o.n_train = a.n_train;
    o.n_val = a.n_val;
    o.n_test = a.n_test;
    o.seed = a.seed;
    o.variant = a.variant;
    o.force = a.force;
    const auto t0 = std::chrono::steady_clock::now();
    const tasks::GenerateResult r = tasks::generate_task(a.task, o);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (size_t i = 0; i < r.files.size(); ++i) log::info("wrote {} ({} examples)", r.files[i], r.counts[i]);
    log::info("{}: generated in {:.1f} s (seed {})", a.task, s, a.seed);
}

// min / median / mean / max of the lengths of one document of every example.
std::string length_stats(const Dataset& d, bool second) {
    std::vector<size_t> n;
    n.reserve(d.examples.size());
    for (const auto& e : d.examples) n.push_back(second ? e.tokens2.size() : e.tokens.size());
    std::sort(n.begin(), n.end());
    const size_t k = n.size();
    const double median = k % 2 ? double(n[k / 2]) : 0.5 * double(n[k / 2 - 1] + n[k / 2]);
    const double mean = double(std::accumulate(n.begin(), n.end(), size_t{0})) / double(k);
    return fmt::format("min {}, median {:g}, mean {:.1f}, max {}", n.front(), median, mean, n.back());
}

void print_summary(const Dataset& d) {
    fmt::print("  task {}, {} examples, {} classes, vocabulary {} ({} symbols incl. padding){}\n", d.task,
               d.examples.size(), d.n_classes, d.vocab.name, d.vocab.size(), d.pair ? ", two documents" : "");
    std::vector<int64_t> hist(static_cast<size_t>(d.n_classes), 0);
    for (const auto& e : d.examples) ++hist[static_cast<size_t>(e.label)];
    fmt::print("  labels:\n");
    for (size_t c = 0; c < hist.size(); ++c)
        fmt::print("    {:>3} {:>9} {:6.2f}%\n", c, hist[c], 100.0 * double(hist[c]) / double(d.examples.size()));
    fmt::print("  length (tokens{}): {}\n", d.pair ? ", first document" : "", length_stats(d, false));
    if (d.pair) fmt::print("  length (tokens, second document): {}\n", length_stats(d, true));
}

// Inspects one file; returns the number of problems found.
int64_t inspect_file(const std::string& path, const std::string& task) {
    fmt::print("{}\n", path);
    tasks::ReadProblems problems;
    try {
        const Dataset d = tasks::scan_task(task, path, problems);
        print_summary(d);
    } catch (const InputError& e) {  // the file could not be read at all (or the task has no lenient reader)
        problems.add(e.what());
    }
    if (problems.count == 0) {
        fmt::print("  problems: none\n");
    } else {
        fmt::print("  problems: {}{}\n", problems.count,
                   problems.count > int64_t(problems.first.size())
                       ? fmt::format(" (the first {})", problems.first.size())
                       : "");
        for (const auto& p : problems.first) fmt::print("    {}\n", p);
    }
    std::fflush(stdout);
    return problems.count;
}

void inspect(const std::string& path, const std::string& task_flag) {
    if (!task_flag.empty()) tasks::find_task(task_flag);  // unknown task: InputError naming the known ones
    std::error_code ec;
    int64_t problems = 0;
    // A directory that is one task's data (a Pathfinder split, an aclImdb split) is read whole; any
    // other directory is a folder of data files and such directories (aclImdb/, pathfinder32/).
    const std::string dir_task = fs::is_directory(path, ec) ? tasks::guess_task(path) : "";
    if (!dir_task.empty() ||
        (fs::is_directory(path, ec) && !task_flag.empty() && tasks::find_task(task_flag).reads_directories)) {
        problems = inspect_file(path, task_flag.empty() ? dir_task : task_flag);
    } else if (!fs::is_directory(path, ec)) {
        const std::string task = task_flag.empty() ? tasks::guess_task(path) : task_flag;
        if (task.empty())
            throw InputError(
                fmt::format("{}: cannot tell the task from the file's name and first line; give --task "
                            "(known: {})",
                            path, known_tasks()));
        problems = inspect_file(path, task);
    } else {
        std::vector<std::string> files;
        for (const auto& entry : fs::directory_iterator(path, ec))
            if (entry.is_regular_file() || entry.is_directory()) files.push_back(entry.path().string());
        std::sort(files.begin(), files.end());
        int inspected = 0;
        for (const auto& f : files) {
            const std::string guessed = tasks::guess_task(f);
            if (guessed.empty()) {
                log::debug("{}: not a data file of a known task; skipped", f);
                continue;
            }
            problems += inspect_file(f, task_flag.empty() ? guessed : task_flag);
            ++inspected;
        }
        if (inspected == 0)
            throw InputError(fmt::format("{}: no data file of a known task (known: {}); give one FILE and --task", path,
                                         known_tasks()));
    }
    if (problems > 0) throw tasks::DataError(fmt::format("{}: {} problem(s) found (listed above)", path, problems));
}

}  // namespace

void add_data(CLI::App& app) {
    auto* cmd = app.add_subcommand("data", "Task data: generate splits, inspect files (LRA formats)");
    cmd->require_subcommand(1);

    auto g = std::make_shared<GenerateArgs>();
    auto* gen = cmd->add_subcommand("generate", "Generate a task's train/val/test files with its generator");
    gen->add_option("task", g->task, "Task:\n" + tasks::tasks_help())->required();
    gen->add_option("-o,--output", g->out, "Output directory (created if missing)")->required();
    gen->add_option("--n-train", g->n_train, "Training examples (default: the task's; pathfinder: all its images)");
    gen->add_option("--n-val", g->n_val, "Validation examples (default: the task's)");
    gen->add_option("--n-test", g->n_test, "Test examples (default: the task's)");
    gen->add_option("--seed", g->seed, "Seed: the same seed writes the same files")->capture_default_str();
    gen->add_option("--variant", g->variant,
                    "Variant of the task (listops: basic, mini; pathfinder: hard, intermediate, easy)");
    gen->add_flag("-f,--force", g->force, "Overwrite existing files");
    gen->callback([g] { generate(*g); });

    auto path = std::make_shared<std::string>();
    auto task = std::make_shared<std::string>();
    auto* ins = cmd->add_subcommand(
        "inspect", "Summarise data files: counts, label histogram, lengths, the first problems found (exit 2 if any)");
    ins->add_option("path", *path, "A data file, or a directory of them")->required()->check(CLI::ExistingPath);
    ins->add_option("--task", *task, "Task of the file(s) (default: guessed from the name and first line)");
    ins->callback([path, task] { inspect(*path, *task); });
}

}  // namespace rmaat::cli
