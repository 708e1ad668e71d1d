// ListOps (tasks/listops.hpp) and the task registry: LRA's TSV read exactly (CRLF and LF), every
// malformed-input case refused with "file:line: reason" (fixtures in tests/data/listops/), the
// evaluator, the generator's rules (length, depth, arity, labels, distinctness, determinism), the
// reader round-trip, and `rmaat data generate|inspect` end to end.
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>

#include "tasks/listops.hpp"
#include "tasks/registry.hpp"
#include "tests/catch.hpp"
#include "tests/cli_run.hpp"

using namespace rmaat::tasks;
namespace fs = std::filesystem;

namespace {

const std::string kData = std::string(RMAAT_SOURCE_DIR) + "/tests/data/listops/";
const std::string kOut = std::string(RMAAT_BINARY_DIR) + "/listops_test/";

std::string fresh_dir(const std::string& name) {
    const std::string d = kOut + name;
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
}

std::string slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
}

// Token ids of a Source text (parentheses dropped), through the reader's vocabulary.
std::vector<int32_t> ids(const std::string& source) {
    const Vocabulary v = listops_vocabulary();
    std::vector<int32_t> out;
    std::istringstream in(source);
    std::string t;
    while (in >> t) {
        if (t == "(" || t == ")") continue;
        for (int32_t id = 1; id < v.size(); ++id)
            if (v.symbols[id] == t) out.push_back(id);
    }
    return out;
}

// The message of the DataError reading `file` throws ("" when it reads).
std::string read_error(const std::string& file) {
    try {
        read_listops_tsv(kData + file);
    } catch (const DataError& e) {
        return e.what();
    }
    return "";
}

using rmaat::testing::Result;
using rmaat::testing::run;

}  // namespace

TEST_CASE("listops vocabulary: padding 0, four operators, the closing bracket, ten digits", "[tasks][listops]") {
    const Vocabulary v = listops_vocabulary();
    REQUIRE(v.size() == kListOpsVocabSize);
    CHECK(v.symbols[0] == "<pad>");
    CHECK(v.symbols[kListOpsMin] == "[MIN");
    CHECK(v.symbols[kListOpsMax] == "[MAX");
    CHECK(v.symbols[kListOpsMed] == "[MED");
    CHECK(v.symbols[kListOpsSum] == "[SM");
    CHECK(v.symbols[kListOpsEnd] == "]");
    for (int d = 0; d < 10; ++d) CHECK(v.symbols[kListOpsDigit0 + d] == std::to_string(d));
}

TEST_CASE("listops evaluator: MIN, MAX, SM mod 10, MED as LRA's int(numpy.median)", "[tasks][listops]") {
    CHECK(evaluate_listops(ids("( ( ( [MAX 2 ) ( ( ( [MIN 9 ) 4 ) ] ) ) ] )")) == 4);
    CHECK(evaluate_listops(ids("( ( ( ( [SM 7 ) 8 ) 9 ) ] )")) == 4);
    CHECK(evaluate_listops(ids("( ( ( [MIN 8 ) 3 ) ] )")) == 3);
    // Median: odd count = the middle value; even count = floor of the mean of the two middle ones.
    CHECK(evaluate_listops(ids("[MED 7 1 4 ]")) == 4);
    CHECK(evaluate_listops(ids("[MED 2 5 ]")) == 3);              // 3.5 -> 3
    CHECK(evaluate_listops(ids("[MED 9 0 9 0 ]")) == 4);          // 4.5 -> 4
    CHECK(evaluate_listops(ids("[MED 1 9 [SM 5 6 ] 3 ]")) == 2);  // sorted 1 1 3 9 -> 2
    CHECK(evaluate_listops(ids("[SM 9 9 9 9 ]")) == 6);
    CHECK(evaluate_listops(ids("7")) == 7);
    // Deep nesting needs no recursion.
    std::vector<int32_t> deep(100000, kListOpsMax);
    deep.push_back(kListOpsDigit0 + 5);
    deep.insert(deep.end(), 100000, kListOpsEnd);
    CHECK(evaluate_listops(deep) == 5);
    CHECK(listops_shape(deep).depth == 100001);
}

TEST_CASE("listops evaluator: a malformed expression is an error naming the token", "[tasks][listops]") {
    CHECK_THROWS_WITH(evaluate_listops({}), ContainsSubstring("empty"));
    CHECK_THROWS_WITH(evaluate_listops(ids("[MIN 1 2")), ContainsSubstring("not closed by ']'"));
    CHECK_THROWS_WITH(evaluate_listops(ids("[MIN ]")), ContainsSubstring("token 2: operator [MIN has no argument"));
    CHECK_THROWS_WITH(evaluate_listops(ids("3 ]")), ContainsSubstring("token 2: ']' closes no operator"));
    CHECK_THROWS_WITH(evaluate_listops(ids("[MIN 1 ] 4")), ContainsSubstring("second expression"));
    CHECK_THROWS_WITH(evaluate_listops({kListOpsDigit0, 99}), ContainsSubstring("not in the ListOps vocabulary"));
}

TEST_CASE("listops reader: LRA's TSV with CRLF and with LF line ends; empty lines at the end are ignored",
          "[tasks][listops]") {
    for (const char* file : {"good_crlf.tsv", "good_lf.tsv", "trailing_blank_lines.tsv"}) {
        const Dataset d = read_listops_tsv(kData + file);
        CHECK(d.task == "listops");
        CHECK(d.source == kData + file);
        CHECK(d.n_classes == 10);
        CHECK_FALSE(d.pair);
        REQUIRE(d.examples.size() == 5);
        CHECK(d.examples[0].tokens == ids("[MAX 2 [MIN 9 4 ] ]"));  // parentheses dropped
        const int labels[] = {4, 3, 4, 2, 3};
        for (size_t i = 0; i < 5; ++i) {
            CHECK(d.examples[i].label == labels[i]);
            CHECK(evaluate_listops(d.examples[i].tokens) == labels[i]);
        }
    }
}

TEST_CASE("listops reader: every malformed input is refused with file:line: reason", "[tasks][listops]") {
    // {fixture, line, reason}; every malformed row is on line 3, after a good one.
    const std::vector<std::array<std::string, 3>> cases = {
        {"empty.tsv", "", "empty file"},
        {"header_only.tsv", "", "no example after the header"},
        {"wrong_header.tsv", ":1:", "wrong header \"source\\x09target\""},
        {"unbalanced_paren.tsv", ":3:", "unbalanced parentheses: 1 '(' not closed"},
        {"extra_paren.tsv", ":3:", "token 9: ')' closes no '('"},
        {"unclosed_operator.tsv", ":3:", "1 operator(s) not closed by ']'"},
        {"stray_bracket.tsv", ":3:", "token 3: ']' closes no operator"},
        {"unknown_operator.tsv", ":3:", "unknown operator \"[FIRST\""},
        {"unknown_token.tsv", ":3:", "token 7: unknown token \"x\""},
        {"multi_digit.tsv", ":3:", "value 12 is not a single digit"},
        {"no_argument.tsv", ":3:", "token 3: operator without argument"},
        {"two_expressions.tsv", ":3:", "token 11: a second expression"},
        {"empty_source.tsv", ":3:", "empty Source"},
        {"label_not_integer.tsv", ":3:", "label \"3.0\" is not an integer"},
        {"label_out_of_range.tsv", ":3:", "label 10 out of range"},
        {"label_negative.tsv", ":3:", "label -1 out of range"},
        {"label_empty.tsv", ":3:", "empty Target"},
        {"three_fields.tsv", ":3:", "3 fields: expected 2"},
        {"one_field.tsv", ":3:", "1 field: expected 2"},
        {"empty_line.tsv", ":3:", "empty line"},
    };
    for (const auto& [file, line, reason] : cases) {
        INFO(file);
        const std::string what = read_error(file);
        CHECK_THAT(what, ContainsSubstring(reason));
        CHECK_THAT(what, ContainsSubstring(kData + file + line));
    }
    CHECK_THAT(read_error("no_such_file.tsv"), ContainsSubstring("cannot open"));
    CHECK_THAT(read_error(""), ContainsSubstring("is a directory"));
}

TEST_CASE("listops reader: the lenient scan lists every problem, wrong labels included", "[tasks][listops]") {
    ReadProblems p;
    const Dataset d = scan_listops_tsv(kData + "problems.tsv", p);
    CHECK(d.examples.size() == 4);  // the two malformed rows are skipped
    REQUIRE(p.count == 3);
    CHECK_THAT(p.first[0], ContainsSubstring("problems.tsv:3: label 7 but the expression evaluates to 3"));
    CHECK_THAT(p.first[1], ContainsSubstring("problems.tsv:4: token 7: unknown token"));
    CHECK_THAT(p.first[2], ContainsSubstring("problems.tsv:6: token 3: operator without argument"));
    // The strict reader stops at the first malformed row and does not evaluate labels.
    CHECK_THAT(read_error("problems.tsv"), ContainsSubstring("problems.tsv:4:"));
    ReadProblems few;
    few.keep = 1;
    scan_listops_tsv(kData + "problems.tsv", few);
    CHECK(few.count == 3);
    CHECK(few.first.size() == 1);
    ReadProblems q;
    CHECK_THROWS_WITH(scan_listops_tsv(kData + "wrong_header.tsv", q), ContainsSubstring(":1: wrong header"));
}

TEST_CASE("listops writer: LRA's parenthesised Source text and CRLF rows", "[tasks][listops]") {
    CHECK(listops_source(ids("[MAX 2 [MIN 9 4 ] ]")) == "( ( ( [MAX 2 ) ( ( ( [MIN 9 ) 4 ) ] ) ) ] )");
    CHECK(listops_source(ids("[MED 1 9 [SM 5 6 ] 3 ]")) == "( ( ( ( ( [MED 1 ) 9 ) ( ( ( [SM 5 ) 6 ) ] ) ) 3 ) ] )");
    CHECK(listops_source(ids("5")) == "5");
    CHECK_THROWS_AS(listops_source(ids("[MIN 1")), rmaat::InputError);
    // Reading a file LRA wrote and writing it again gives the same bytes.
    const std::string out = fresh_dir("writer") + "/copy.tsv";
    write_listops_tsv(out, read_listops_tsv(kData + "good_crlf.tsv").examples);
    CHECK(slurp(out) == slurp(kData + "good_crlf.tsv"));
}

TEST_CASE("listops generator: LRA's length, depth and arity rules; labels are the evaluated values",
          "[tasks][listops]") {
    for (const char* variant : {"basic", "mini"}) {
        INFO(variant);
        const ListOpsRules r = listops_rules(variant);
        const auto examples = generate_listops(r, variant == std::string("basic") ? 60 : 400, 11);
        std::set<std::vector<int32_t>> distinct;
        int deepest = 0, widest = 0;
        for (const Example& e : examples) {
            const auto n = static_cast<int64_t>(e.tokens.size());
            CHECK(n > r.min_length);
            CHECK(n < r.max_length);
            const ListOpsShape s = listops_shape(e.tokens);
            CHECK(s.depth <= r.max_depth);
            CHECK(s.min_args >= 2);
            CHECK(s.max_args <= r.max_args);
            CHECK(e.label == evaluate_listops(e.tokens));
            deepest = std::max(deepest, s.depth);
            widest = std::max(widest, s.max_args);
            distinct.insert(e.tokens);
        }
        CHECK(distinct.size() == examples.size());
        CHECK(deepest > 3);  // the rules are exercised, not just respected
        CHECK(widest == r.max_args);
    }
    CHECK(listops_rules("basic").min_length == 500);
    CHECK(listops_rules("basic").max_length == 2000);
    CHECK(listops_rules("basic").n_train == 96000);
    CHECK(listops_rules("basic").n_val == 2000);
    CHECK(listops_rules("basic").n_test == 2000);
    CHECK_THROWS_WITH(listops_rules("large"),
                      ContainsSubstring("unknown listops variant \"large\" (known: basic, mini)"));
}

TEST_CASE("listops generator: a node is a leaf with probability 0.75 below the maximum depth", "[tasks][listops]") {
    ListOpsRules r = listops_rules("basic");
    rmaat::tasks::SplitMix64 rng(5);
    int leaves = 0;
    const int n = 20000;
    std::vector<int32_t> t;
    for (int i = 0; i < n; ++i) {
        t.clear();
        draw_listops_tree(rng, r, 1 << 30, t);
        leaves += t.size() == 1;
    }
    // The root is a leaf with probability 0.75: 4 standard deviations (0.012) of 20000 draws.
    CHECK(std::abs(leaves / double(n) - 0.75) < 0.012);
    r.max_depth = 1;  // at the maximum depth every node is a leaf
    t.clear();
    draw_listops_tree(rng, r, 1 << 30, t);
    CHECK(t.size() == 1);
}

TEST_CASE("listops generator: lengths and labels distributed as LRA's generate_tree gives them", "[tasks][listops]") {
    // Reference: an independent Python restatement of LRA's generate_tree and acceptance loop
    // (random.random, randint(2, 10), 1000 accepted trees): mean length 1045.0, median 966; labels
    // 0 and 9 each ~0.17 (MIN and MAX pile up at the ends), 1..8 ~0.08. The standard error of the mean
    // of 2000 lengths is ~8 tokens; the bands are wide enough for any seed and narrow enough to catch
    // a wrong leaf probability, arity range or depth rule.
    const auto examples = generate_listops(listops_rules("basic"), 2000, 21);
    std::vector<size_t> lengths;
    std::array<double, 10> share{};
    for (const Example& e : examples) {
        lengths.push_back(e.tokens.size());
        share[e.label] += 1.0 / examples.size();
    }
    std::sort(lengths.begin(), lengths.end());
    double mean = 0;
    for (size_t n : lengths) mean += double(n) / lengths.size();
    CHECK(mean > 1000);
    CHECK(mean < 1090);
    CHECK(lengths[1000] > 920);
    CHECK(lengths[1000] < 1010);
    CHECK(share[0] > 0.14);
    CHECK(share[9] > 0.14);
    for (int v = 1; v <= 8; ++v) CHECK(share[v] < 0.11);
}

TEST_CASE("listops generator: the same seed gives the same files, another seed others", "[tasks][listops]") {
    GenerateOptions o;
    o.variant = "mini";
    o.n_train = 40;
    o.n_val = 7;
    o.n_test = 5;
    o.seed = 3;
    o.progress = false;
    o.out_dir = fresh_dir("seed_a");
    const GenerateResult a = generate_listops_files(o);
    o.out_dir = fresh_dir("seed_b");
    const GenerateResult b = generate_listops_files(o);
    o.seed = 4;
    o.out_dir = fresh_dir("seed_c");
    const GenerateResult c = generate_listops_files(o);
    REQUIRE(a.files.size() == 3);
    CHECK(a.counts == std::vector<int64_t>{40, 7, 5});
    CHECK(fs::path(a.files[0]).filename() == "mini_train.tsv");
    CHECK(fs::path(a.files[1]).filename() == "mini_val.tsv");
    CHECK(fs::path(a.files[2]).filename() == "mini_test.tsv");
    for (int s = 0; s < 3; ++s) {
        CHECK(slurp(a.files[s]) == slurp(b.files[s]));
        CHECK(slurp(a.files[s]) != slurp(c.files[s]));
    }
    CHECK(generate_listops(listops_rules("mini"), 30, 9)[29].tokens ==
          generate_listops(listops_rules("mini"), 30, 9)[29].tokens);
}

TEST_CASE("listops generator: files read back to what was generated, splits disjoint, LRA's bytes",
          "[tasks][listops]") {
    GenerateOptions o;
    o.variant = "mini";
    o.n_train = 50;
    o.n_val = 10;
    o.n_test = 10;
    o.seed = 8;
    o.progress = false;
    o.out_dir = fresh_dir("roundtrip");
    const GenerateResult r = generate_listops_files(o);
    // The splits are the first 50, the next 10 and the last 10 of one draw of 70 distinct expressions.
    const auto all = generate_listops(listops_rules("mini"), 70, 8);
    size_t next = 0;
    for (int s = 0; s < 3; ++s) {
        const std::string text = slurp(r.files[s]);
        CHECK(text.rfind("Source\tTarget\r\n", 0) == 0);
        CHECK(text.substr(text.size() - 2) == "\r\n");
        const Dataset d = read_listops_tsv(r.files[s]);
        REQUIRE(d.examples.size() == size_t(r.counts[s]));
        for (const Example& e : d.examples) {
            CHECK(e.tokens == all[next].tokens);
            CHECK(e.label == all[next].label);
            ++next;
        }
        const std::string copy = r.files[s] + ".copy";
        write_listops_tsv(copy, d.examples);
        CHECK(slurp(copy) == text);
    }
    for (const auto& f : fs::directory_iterator(o.out_dir)) CHECK(f.path().extension() != ".partial");
}

TEST_CASE("listops generator: existing files are kept unless forced; bad counts are refused", "[tasks][listops]") {
    GenerateOptions o;
    o.variant = "mini";
    o.n_train = 5;
    o.n_val = 2;
    o.n_test = 2;
    o.progress = false;
    o.out_dir = fresh_dir("force");
    generate_listops_files(o);
    const std::string before = slurp(o.out_dir + "/mini_val.tsv");
    o.seed = 99;
    CHECK_THROWS_WITH(generate_listops_files(o), ContainsSubstring("mini_train.tsv exists: give -f/--force"));
    CHECK(slurp(o.out_dir + "/mini_val.tsv") == before);
    o.force = true;
    generate_listops_files(o);
    CHECK(slurp(o.out_dir + "/mini_val.tsv") != before);
    o.n_val = 0;
    CHECK_THROWS_WITH(generate_listops_files(o), ContainsSubstring("--n-val 0: every split needs at least 1"));
    o.n_val = 2;
    o.variant = "huge";
    CHECK_THROWS_WITH(generate_listops_files(o), ContainsSubstring("unknown listops variant"));
}

TEST_CASE("task registry: listops rows read, scan, generate and guess; unknown tasks name the known ones",
          "[tasks][listops]") {
    CHECK(task_names().at(0) == "listops");
    CHECK(task_names().at(1) == "listops-mini");
    CHECK_THAT(tasks_help(), ContainsSubstring("listops-mini"));
    CHECK_THROWS_WITH(find_task("listopz"),
                      ContainsSubstring("unknown task \"listopz\" (known: listops, listops-mini, image"));
    CHECK(read_task("listops", kData + "good_lf.tsv").examples.size() == 5);
    CHECK(read_task("listops-mini", kData + "good_lf.tsv").task == "listops-mini");
    CHECK_THROWS_AS(read_task("listops", kData + "unknown_token.tsv"), DataError);
    ReadProblems p;
    scan_task("listops", kData + "problems.tsv", p);
    CHECK(p.count == 3);
    CHECK(guess_task(kData + "good_crlf.tsv") == "listops");
    CHECK(guess_task(kData + "../../test_tasks_listops.cpp").empty());

    GenerateOptions o;
    o.n_train = 3;
    o.n_val = 1;
    o.n_test = 1;
    o.progress = false;
    o.out_dir = fresh_dir("registry");
    const GenerateResult r = generate_task("listops-mini", o);
    CHECK(fs::path(r.files[0]).filename() == "mini_train.tsv");
    CHECK(guess_task(r.files[0]) == "listops-mini");
    CHECK(read_task("listops-mini", r.files[0]).examples.size() == 3);
    o.variant = "basic";
    CHECK_THROWS_WITH(generate_task("listops-mini", o), ContainsSubstring("it is the mini variant"));
}

TEST_CASE("rmaat data generate|inspect: files, summary, problems and exit codes", "[tasks][listops][cli]") {
    const std::string dir = fresh_dir("cli");
    const std::string gen = "data generate listops-mini -o " + dir + " --n-train 60 --n-val 10 --n-test 10 --seed 2";
    Result r = run(gen);
    REQUIRE(r.code == 0);
    CHECK_THAT(r.output, ContainsSubstring("mini_train.tsv (60 examples)"));
    CHECK(fs::exists(dir + "/mini_val.tsv"));
    CHECK(fs::exists(dir + "/mini_test.tsv"));

    // `generate listops --variant mini` is the same task: same seed, same bytes.
    const std::string dir2 = fresh_dir("cli_variant");
    r = run("data generate listops --variant mini -o " + dir2 + " --n-train 60 --n-val 10 --n-test 10 --seed 2");
    REQUIRE(r.code == 0);
    CHECK(slurp(dir2 + "/mini_train.tsv") == slurp(dir + "/mini_train.tsv"));

    r = run(gen);  // exists, no --force
    CHECK(r.code == 2);
    CHECK_THAT(r.output, ContainsSubstring("exists: give -f/--force"));

    r = run("data inspect " + dir);
    CHECK(r.code == 0);
    CHECK_THAT(r.output, ContainsSubstring("mini_train.tsv"));
    CHECK_THAT(r.output, ContainsSubstring("task listops-mini, 60 examples, 10 classes"));
    CHECK_THAT(r.output, ContainsSubstring("labels:"));
    CHECK_THAT(r.output, ContainsSubstring("length (tokens): min "));
    CHECK_THAT(r.output, ContainsSubstring("problems: none"));

    r = run("data inspect " + kData + "good_crlf.tsv");
    CHECK(r.code == 0);
    CHECK_THAT(r.output, ContainsSubstring("length (tokens): min 4, median 5, mean 5.8, max 9"));
    CHECK_THAT(r.output, ContainsSubstring("      4         2  40.00%"));

    r = run("data inspect " + kData + "problems.tsv");
    CHECK(r.code == 2);
    CHECK_THAT(r.output, ContainsSubstring("problems: 3"));
    CHECK_THAT(r.output, ContainsSubstring("problems.tsv:3: label 7 but the expression evaluates to 3"));
    CHECK_THAT(r.output, ContainsSubstring("problems.tsv:6: token 3: operator without argument"));

    r = run("data inspect " + kData + "wrong_header.tsv --task listops");
    CHECK(r.code == 2);
    CHECK_THAT(r.output, ContainsSubstring("wrong_header.tsv:1: wrong header"));

    r = run("data inspect " + kData + "../../test_tasks_listops.cpp");
    CHECK(r.code == 2);
    CHECK_THAT(r.output, ContainsSubstring("cannot tell the task"));

    r = run("data generate nosuch -o " + dir);
    CHECK(r.code == 2);
    CHECK_THAT(r.output, ContainsSubstring("unknown task \"nosuch\" (known: listops, listops-mini"));

    r = run("data generate listops -o " + dir + " --n-test 0");
    CHECK(r.code == 2);
    CHECK_THAT(r.output, ContainsSubstring("--n-test 0"));

    // The benchmark runs end to end on tiny sizes and prints its table.
    r = run("bench data --samples 5 --repeats 1 --fraction 0.00002 --dir " + fresh_dir("bench"));
    CHECK(r.code == 0);
    CHECK_THAT(r.output, ContainsSubstring("| read_listops_tsv (best of 1) | 5 |"));
    CHECK_THAT(r.output, ContainsSubstring("| generate splits 2/1/1"));

    r = run("data generate --help");
    CHECK(r.code == 0);
    CHECK_THAT(r.output, ContainsSubstring("listops-mini"));
}
