#include "tasks/registry.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>

#include <fmt/format.h>

#include "core/choices.hpp"
#include "tasks/image.hpp"
#include "tasks/listops.hpp"
#include "tasks/pathfinder.hpp"
#include "tasks/text.hpp"

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

namespace fs = std::filesystem;

bool is_dir(const std::string& p) {
    std::error_code ec;
    return fs::is_directory(p, ec);
}
std::string file_name(const std::string& p) {
    return fs::path(p).filename().string();
}
std::string first_line(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    std::string line;
    std::getline(in, line);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
}
Dataset named(Dataset d, const char* task) {
    d.task = task;
    return d;
}

// image: a CIFAR-10 batch file, or the cifar-10-batches-bin directory (its train split).
Dataset read_image(const std::string& p) {
    return is_dir(p) ? read_cifar10(p, "train") : read_cifar10_batch(p);
}
bool looks_like_cifar(const std::string& p) {
    static const std::regex name(R"((data_batch_[1-5]|test_batch)\.bin(\.gz)?)");
    return !is_dir(p) && std::regex_match(file_name(p), name);
}

// fashion-mnist: the directory of the Debian package's layout (its train split), or one of the two IDX
// files of a split (the other is its sibling: *-images-idx3-ubyte[.gz] <-> *-labels-idx1-ubyte[.gz]).
Dataset read_fashion(const std::string& p) {
    if (is_dir(p)) return named(read_fashion_mnist("train", p), "fashion-mnist");
    const std::string name = file_name(p);
    auto sibling = [&](const std::string& from, const std::string& to) {
        return (fs::path(p).parent_path() / std::regex_replace(name, std::regex(from), to)).string();
    };
    if (name.find("-images-idx3-ubyte") != std::string::npos)
        return named(read_idx(p, sibling("-images-idx3-", "-labels-idx1-")), "fashion-mnist");
    if (name.find("-labels-idx1-ubyte") != std::string::npos)
        return named(read_idx(sibling("-labels-idx1-", "-images-idx3-"), p), "fashion-mnist");
    throw DataError(
        fmt::format("{}: not an IDX file name (<split>-images-idx3-ubyte or <split>-labels-idx1-ubyte, "
                    "optionally .gz); give the directory or the images file",
                    p));
}
bool looks_like_fashion(const std::string& p) {
    return !is_dir(p) && file_name(p).find("-images-idx3-ubyte") != std::string::npos;
}

// text: an aclImdb split directory (<root>/<split> with pos/ and neg/), the aclImdb root (its train
// split), or a two-column TSV.
Dataset read_text(const std::string& p) {
    if (!is_dir(p)) return read_text_tsv(p);
    const fs::path d = fs::path(p).lexically_normal();
    if (is_dir((d / "pos").string()) || is_dir((d / "neg").string())) {
        const fs::path split = d.filename().empty() ? d.parent_path() : d;
        return read_imdb_dir(split.parent_path().string(), split.filename().string());
    }
    return read_imdb_dir(p, "train");
}
bool looks_like_text(const std::string& p) {
    if (is_dir(p)) return is_dir(p + "/pos") && is_dir(p + "/neg");
    return fs::path(p).extension() == ".tsv" && first_line(p) == "label\ttext";
}

// retrieval: LRA's AAN files (no header; five columns).
Dataset read_retrieval(const std::string& p) {
    return read_aan_tsv(p);
}
bool looks_like_aan(const std::string& p) {
    if (is_dir(p) || fs::path(p).extension() != ".tsv") return false;
    const std::string line = first_line(p);
    return std::count(line.begin(), line.end(), '\t') == 4;
}

// pathfinder: a split directory of LRA's layout (metadata/*.npy and the images they list).
Dataset read_pathfinder_dir(const std::string& p) {
    return read_pathfinder(p);
}
bool looks_like_pathfinder(const std::string& p) {
    return is_dir(p) && is_dir(p + "/metadata");
}
// One split directory of n_train (+ n_val + n_test, when given) images; the variant picks LRA's contour
// length: hard (14, the default), intermediate (9), easy (6).
GenerateResult generate_pathfinder_split(const GenerateOptions& o) {
    PathfinderOptions opt;
    opt.seed = o.seed;
    opt.force = o.force;
    if (o.variant == "" || o.variant == "hard")
        opt.contour_length = 14;
    else if (o.variant == "intermediate")
        opt.contour_length = 9;
    else if (o.variant == "easy")
        opt.contour_length = 6;
    else
        throw InputError(
            fmt::format("task pathfinder: unknown --variant {} (known: hard, intermediate, easy)", o.variant));
    opt.distractor_length = opt.contour_length / 3;
    opt.n_distractor_snakes = 20 / opt.distractor_length;
    int64_t n = o.n_train < 0 ? 2000 : o.n_train;
    for (int64_t extra : {o.n_val, o.n_test})
        if (extra > 0) n += extra;
    opt.n_images = n;
    const PathfinderReport r = generate_pathfinder(opt, o.out_dir, o.progress);
    return {{r.directory}, {r.images}};
}

// One row per task (docs/design.md section 6.3): {{read, scan, generate, guess, reads_directories}, name,
// help}.
// Captureless lambdas adapt shared readers; nullptr where a task has no such function.
constexpr Choice<TaskFns> kTaskRows[] = {
    {{[](const std::string& p) { return read_listops_tsv_as(p, "listops"); },
      [](const std::string& p, ReadProblems& r) { return scan_listops_tsv_as(p, "listops", r); },
      generate_listops_files, [](const std::string& p) { return looks_like_listops(p, "basic"); }, false},
     "listops",
     "LRA ListOps: basic_{train,val,test}.tsv (Source<TAB>Target); generator: lengths in (500, 2000), 96k/2k/2k"},
    {{[](const std::string& p) { return read_listops_tsv_as(p, "listops-mini"); },
      [](const std::string& p, ReadProblems& r) { return scan_listops_tsv_as(p, "listops-mini", r); },
      generate_listops_mini, [](const std::string& p) { return looks_like_listops(p, "mini"); }, false},
     "listops-mini",
     "ListOps with lengths in (20, 100) for CPU runs: mini_{train,val,test}.tsv, 10k/1k/1k"},
    {{read_image, nullptr, nullptr, looks_like_cifar, true},
     "image",
     "LRA Image: CIFAR-10 binary batches (data_batch_1..5.bin, test_batch.bin, or their directory), grayscale, "
     "1024 tokens"},
    {{read_fashion, nullptr, nullptr, looks_like_fashion, true},
     "fashion-mnist",
     "Sequential Fashion-MNIST: IDX files (<split>-images-idx3-ubyte[.gz] + labels), 784 tokens; Debian: "
     "dataset-fashion-mnist"},
    {{read_text, nullptr, nullptr, looks_like_text, true},
     "text",
     "LRA Text: byte-level IMDb, aclImdb/<split>/{pos,neg}/*.txt or a label<TAB>text TSV, up to 4000 bytes"},
    {{read_retrieval, nullptr, nullptr, looks_like_aan},
     "retrieval",
     "LRA Retrieval: AAN TSV (label, id1, id2, text1, text2), two byte-level documents of up to 4000 bytes"},
    {{read_pathfinder_dir, nullptr, generate_pathfinder_split, looks_like_pathfinder, true},
     "pathfinder",
     "LRA Pathfinder 32x32: a split directory (metadata/*.npy + imgs/); generator: --variant hard|intermediate|easy, "
     "--n-train images (2000)"},
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
