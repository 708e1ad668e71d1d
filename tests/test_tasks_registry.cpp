// The task registry (tasks/registry.hpp) beyond ListOps: every row reads the fixtures of its published
// format through read_task, guess_task recognises each, directories that are one task's data are read
// whole, Pathfinder generates through the registry, and `rmaat data inspect` summarises directories.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "tasks/registry.hpp"
#include "tests/catch.hpp"
#include "tests/cli_run.hpp"

using namespace rmaat::tasks;
namespace fs = std::filesystem;

namespace {

const std::string kData = std::string(RMAAT_SOURCE_DIR) + "/tests/data/";
const std::string kOut = std::string(RMAAT_BINARY_DIR) + "/registry_test/";

using rmaat::testing::Result;
using rmaat::testing::run;

// One fixture per row: the path, the task guess_task must name, and what read_task must return.
struct Case {
    const char* path;  // under tests/data
    const char* task;
    size_t examples;
    int32_t classes;
    size_t tokens;  // of the first example
    bool pair;
};
constexpr Case kCases[] = {
    {"listops/good_lf.tsv", "listops", 5, 10, 7, false},
    {"cifar10/data_batch_2.bin", "image", 1, 10, 1024, false},
    {"cifar10/data_batch_1.bin.gz", "image", 3, 10, 1024, false},
    {"fashion_mnist/train-images-idx3-ubyte", "fashion-mnist", 3, 10, 784, false},
    {"fashion_mnist/t10k-images-idx3-ubyte.gz", "fashion-mnist", 5, 10, 784, false},
    {"imdb/imdb.tsv", "text", 3, 2, 9, false},
    {"imdb/aclImdb/train", "text", 5, 2, 0, false},
    {"aan/new_aan_pairs.eval.tsv", "retrieval", 3, 2, 0, true},
    {"pathfinder/good", "pathfinder", 3, 2, 1024, false},
};

}  // namespace

TEST_CASE("task registry: every row reads its published format and guess_task recognises it", "[tasks]") {
    CHECK(task_names() == std::vector<std::string>{"listops", "listops-mini", "image", "fashion-mnist", "text",
                                                   "retrieval", "pathfinder"});
    for (const Case& c : kCases) {
        INFO(c.path);
        const std::string path = kData + c.path;
        CHECK(guess_task(path) == c.task);
        const Dataset d = read_task(c.task, path);
        CHECK(d.task == c.task);
        CHECK(d.examples.size() == c.examples);
        CHECK(d.n_classes == c.classes);
        CHECK(d.pair == c.pair);
        if (c.tokens > 0) CHECK(d.examples.at(0).tokens.size() == c.tokens);
        CHECK_NOTHROW(d.validate());
    }
    // Not data of any task: the sources, a labels file alone (its images file is the one to name), a
    // directory of directories.
    CHECK(guess_task(kData + "../test_tasks_registry.cpp").empty());
    CHECK(guess_task(kData + "fashion_mnist/train-labels-idx1-ubyte").empty());
    CHECK(guess_task(kData + "imdb/aclImdb").empty());
}

TEST_CASE("task registry: directories and sibling files resolve to the split a user means", "[tasks]") {
    // A labels file finds its images; the images file its labels: the same examples.
    const Dataset a = read_task("fashion-mnist", kData + "fashion_mnist/train-labels-idx1-ubyte");
    const Dataset b = read_task("fashion-mnist", kData + "fashion_mnist/train-images-idx3-ubyte");
    REQUIRE(a.examples.size() == b.examples.size());
    for (size_t i = 0; i < a.examples.size(); ++i) {
        CHECK(a.examples[i].tokens == b.examples[i].tokens);
        CHECK(a.examples[i].label == b.examples[i].label);
    }
    CHECK_THROWS_WITH(read_task("fashion-mnist", kData + "imdb/imdb.tsv"),
                      ContainsSubstring("imdb.tsv: not an IDX file name"));
    // The aclImdb root reads its train split, like the split directory itself.
    CHECK(read_task("text", kData + "imdb/aclImdb").examples.size() == 5);
    CHECK(read_task("text", kData + "imdb/aclImdb/test").examples.size() == 2);
    CHECK(read_task("text", kData + "imdb/aclImdb/test/").examples.size() == 2);
    // A CIFAR-10 directory is its train split: data_batch_1..5 in order.
    CHECK(read_task("image", kData + "cifar10").examples.size() == 3 + 4);
    // The rows without a lenient reader throw at the first problem.
    ReadProblems p;
    CHECK_THROWS_WITH(scan_task("pathfinder", kData + "pathfinder/bad_label", p),
                      ContainsSubstring("bad_label/metadata/0.npy:2: label '2'"));
    CHECK_THROWS_WITH(generate_task("image", GenerateOptions{}), ContainsSubstring("task image has no generator"));
}

TEST_CASE("task registry: pathfinder generates a split directory that reads back", "[tasks][pathfinder]") {
    const std::string out = kOut + "pathfinder";
    fs::remove_all(out);
    GenerateOptions o;
    o.out_dir = out;
    o.n_train = 12;
    o.n_val = 2;
    o.n_test = 2;
    o.seed = 5;
    o.progress = false;
    o.variant = "intermediate";
    const GenerateResult r = generate_task("pathfinder", o);
    REQUIRE(r.files.size() == 1);
    CHECK(fs::path(r.files[0]).filename() == "curv_contour_length_9");
    CHECK(r.counts == std::vector<int64_t>{16});
    CHECK(guess_task(r.files[0]) == "pathfinder");
    const Dataset d = read_task("pathfinder", r.files[0]);
    CHECK(d.examples.size() == 16);
    o.variant = "medium";
    CHECK_THROWS_WITH(generate_task("pathfinder", o),
                      ContainsSubstring("unknown --variant medium (known: hard, intermediate, easy)"));
}

TEST_CASE("rmaat data inspect: task directories read whole, folders of them each, problems exit 2", "[tasks][cli]") {
    Result r = run("data inspect " + kData + "imdb/aclImdb");
    INFO(r.output);
    CHECK(r.code == 0);
    CHECK_THAT(r.output, ContainsSubstring("aclImdb/test\n  task text, 2 examples") &&
                             ContainsSubstring("aclImdb/train\n  task text, 5 examples"));
    r = run("data inspect " + kData + "aan/new_aan_pairs.eval.tsv");
    CHECK(r.code == 0);
    CHECK_THAT(r.output, ContainsSubstring("task retrieval, 3 examples, 2 classes, vocabulary bytes (257 symbols "
                                           "incl. padding), two documents") &&
                             ContainsSubstring("length (tokens, second document): min 24"));
    r = run("data inspect " + kData + "pathfinder");
    CHECK(r.code == 2);
    CHECK_THAT(r.output, ContainsSubstring("pathfinder/good\n  task pathfinder, 3 examples") &&
                             ContainsSubstring("wrong_size/imgs/0/sample_0.png") &&
                             ContainsSubstring("8 problem(s) found"));
    r = run("data inspect " + kData + "cifar10/malformed/truncated.bin --task image");
    CHECK(r.code == 2);
    CHECK_THAT(r.output, ContainsSubstring("truncated.bin"));
    const std::string out = kOut + "cli_pathfinder";
    fs::remove_all(out);
    r = run("data generate pathfinder -o " + out + " --n-train 8 --seed 2");
    CHECK(r.code == 0);
    CHECK_THAT(r.output, ContainsSubstring("curv_contour_length_14 (8 examples)"));
    r = run("data inspect " + out);
    CHECK(r.code == 0);
    CHECK_THAT(r.output, ContainsSubstring("task pathfinder, 8 examples"));
}
