#include "tasks/listops.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unordered_set>

#include "core/progress.hpp"

namespace rmaat::tasks {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kHeader = "Source\tTarget";
constexpr const char* kSymbols[kListOpsVocabSize] = {"<pad>", "[MIN", "[MAX", "[MED", "[SM", "]", "0", "1",
                                                     "2",     "3",    "4",    "5",    "6",   "7", "8", "9"};

bool is_operator(int32_t id) {
    return id >= kListOpsMin && id <= kListOpsSum;
}
bool is_digit(int32_t id) {
    return id >= kListOpsDigit0 && id < kListOpsDigit0 + 10;
}

// A token of a file as it may be shown in a message: printable, at most 40 characters.
std::string shown(std::string_view s) {
    std::string out;
    for (char c : s.substr(0, 40)) {
        const auto u = static_cast<unsigned char>(c);
        out += (u >= 0x20 && u < 0x7f) ? std::string(1, c) : fmt::format("\\x{:02x}", u);
    }
    return s.size() > 40 ? out + "..." : out;
}

// ------------------------------------------------------------------------------------------------
// The expression walk shared by the evaluator, the shape and the writer: one frame per open
// operator (its token, argument count and a histogram of its argument values, enough for all four
// operators), so deep nesting needs no recursion. Errors name the token position (1-based).

struct Frame {
    int32_t op;
    int args = 0;
    std::array<int, 10> count{};
};

int apply(const Frame& f) {
    int lo = 0, hi = 9, sum = 0;
    while (f.count[lo] == 0) ++lo;
    while (f.count[hi] == 0) --hi;
    for (int v = 0; v < 10; ++v) sum += v * f.count[v];
    switch (f.op) {
        case kListOpsMin: return lo;
        case kListOpsMax: return hi;
        case kListOpsSum: return sum % 10;
        default: break;
    }
    // int(numpy.median(v)): the k/2-th (0-based) sorted value for odd k; for even k the floor of the
    // mean of the (k/2 - 1)-th and k/2-th.
    auto nth = [&](int n) {
        for (int v = 0, seen = 0; v < 10; ++v)
            if ((seen += f.count[v]) > n) return v;
        return 9;
    };
    return f.args % 2 ? nth(f.args / 2) : (nth(f.args / 2 - 1) + nth(f.args / 2)) / 2;
}

// Walks tokens[0..n): returns the value; fills `shape` and, per operator token, its argument count.
template <typename T>
int walk(const T* tokens, size_t n, ListOpsShape* shape, std::vector<int>* arg_counts) {
    auto fail = [&](size_t i, const std::string& why) -> int {
        throw InputError(fmt::format("ListOps expression, token {}: {}", i + 1, why));
    };
    if (n == 0) fail(0, "empty expression");
    std::vector<Frame> stack;
    std::vector<size_t> open_at;  // token index of each open operator (for arg_counts)
    if (arg_counts) arg_counts->assign(n, 0);
    if (shape) *shape = ListOpsShape{};
    int value = -1;
    bool done = false;
    auto deliver = [&](int v) {  // a digit or a closed operator: the value or an argument
        if (stack.empty()) {
            value = v;
            done = true;
        } else {
            ++stack.back().args;
            ++stack.back().count[v];
        }
    };
    for (size_t i = 0; i < n; ++i) {
        const auto id = static_cast<int32_t>(tokens[i]);
        if (!is_digit(id) && !is_operator(id) && id != kListOpsEnd)
            fail(i, fmt::format("token id {} is not in the ListOps vocabulary [1, {})", id, kListOpsVocabSize));
        if (id == kListOpsEnd && stack.empty()) fail(i, "']' closes no operator");
        if (done) fail(i, "a second expression after the first one ended");
        if (is_digit(id)) {
            if (shape) shape->depth = std::max(shape->depth, int(stack.size()) + 1);
            deliver(id - kListOpsDigit0);
        } else if (is_operator(id)) {
            stack.push_back(Frame{id});
            open_at.push_back(i);
            if (shape) {
                shape->depth = std::max(shape->depth, int(stack.size()));
                ++shape->operators;
            }
        } else {  // ]
            const Frame f = stack.back();
            if (f.args == 0) fail(i, fmt::format("operator {} has no argument", kSymbols[f.op]));
            stack.pop_back();
            if (arg_counts) (*arg_counts)[open_at.back()] = f.args;
            open_at.pop_back();
            if (shape) {
                shape->min_args = shape->max_args == 0 ? f.args : std::min(shape->min_args, f.args);
                shape->max_args = std::max(shape->max_args, f.args);
            }
            deliver(apply(f));
        }
    }
    if (!stack.empty())
        fail(n - 1, fmt::format("{} operator(s) not closed by ']' (the innermost is {} at token {})", stack.size(),
                                kSymbols[stack.back().op], open_at.back() + 1));
    return value;
}

// LRA's to_string: an operator with k arguments opens k + 1 parentheses; each completed argument
// closes one, its ']' the last. Appends to `out`, tokens separated by single spaces.
template <typename T>
void render(const T* tokens, size_t n, std::string& out) {
    std::vector<int> args;
    walk(tokens, n, nullptr, &args);
    bool first = true;
    auto emit = [&](const char* s) {
        if (!first) out += ' ';
        first = false;
        out += s;
    };
    int open = 0;  // operators open
    for (size_t i = 0; i < n; ++i) {
        const auto id = static_cast<int32_t>(tokens[i]);
        if (is_operator(id)) {
            for (int k = 0; k <= args[i]; ++k) emit("(");
            emit(kSymbols[id]);
            ++open;
            continue;
        }
        emit(kSymbols[id]);
        if (id == kListOpsEnd) {
            emit(")");
            --open;
        }
        if (open > 0) emit(")");  // a digit or a closed operator completed an argument
    }
}

// ------------------------------------------------------------------------------------------------
// Reading.

// The id of an operator, digit or ']' token, or -1 with the reason in `why` (the caller handles the
// parentheses).
int32_t token_id(std::string_view t, std::string& why) {
    if (t.size() == 1 && t[0] >= '0' && t[0] <= '9') return kListOpsDigit0 + (t[0] - '0');
    for (int32_t id = kListOpsMin; id <= kListOpsEnd; ++id)
        if (t == kSymbols[id]) return id;
    if (t[0] == '[')
        why = fmt::format("unknown operator \"{}\" (known: [MIN, [MAX, [MED, [SM)", shown(t));
    else if (std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; }))
        why = fmt::format("value {} is not a single digit 0..9", shown(t));
    else
        why = fmt::format("unknown token \"{}\" (known: ( ) [MIN [MAX [MED [SM ] 0-9)", shown(t));
    return -1;
}

// Parses a Source field into `out` (scratch), checking tokens, parentheses and brackets. Returns ""
// or the reason it is malformed.
std::string parse_source(std::string_view s, std::vector<int32_t>& out) {
    out.clear();
    std::vector<int> args;  // per open operator: arguments so far
    long parens = 0, position = 0;
    bool done = false;
    std::string why;
    size_t i = 0;
    while (i < s.size()) {
        if (s[i] == ' ') {
            ++i;
            continue;
        }
        size_t j = i + 1;  // tokens are short: a loop beats a memchr call per token
        while (j < s.size() && s[j] != ' ') ++j;
        const std::string_view t = s.substr(i, j - i);
        i = j;
        ++position;
        int32_t id = -1;
        if (t.size() == 1) {  // the common case: a parenthesis, a digit or ]
            const char c = t[0];
            if (c == '(') {
                ++parens;
                continue;
            }
            if (c == ')') {
                if (--parens < 0) return fmt::format("token {}: ')' closes no '('", position);
                continue;
            }
            if (c >= '0' && c <= '9') id = kListOpsDigit0 + (c - '0');
            if (c == ']') id = kListOpsEnd;
        }
        if (id < 0) id = token_id(t, why);
        if (id < 0) return fmt::format("token {}: {}", position, why);
        if (id == kListOpsEnd && args.empty()) return fmt::format("token {}: ']' closes no operator", position);
        if (done) return fmt::format("token {}: a second expression after the first one ended", position);
        if (id == kListOpsEnd) {
            if (args.back() == 0) return fmt::format("token {}: operator without argument", position);
            args.pop_back();
        } else if (!args.empty()) {
            ++args.back();
        }
        if (is_operator(id)) args.push_back(0);
        if (args.empty()) done = true;
        out.push_back(id);
    }
    if (out.empty()) return "empty Source (no expression)";
    if (!args.empty()) return fmt::format("{} operator(s) not closed by ']'", args.size());
    if (parens != 0) return fmt::format("unbalanced parentheses: {} '(' not closed", parens);
    return "";
}

// Target: an integer 0..9. Returns "" or the reason.
std::string parse_label(std::string_view t, int32_t& label) {
    if (t.empty()) return "empty Target (the label 0..9)";
    const size_t start = t[0] == '-' ? 1 : 0;
    const bool integer =
        t.size() > start && std::all_of(t.begin() + start, t.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!integer) return fmt::format("label \"{}\" is not an integer (expected 0..9)", shown(t));
    const std::string_view digits = t.substr(start);
    const size_t nz = std::min(digits.find_first_not_of('0'), digits.size());
    long v = 0;
    if (digits.size() - nz > 2)
        v = 100;  // out of range whatever it is
    else
        for (char c : digits.substr(nz)) v = 10 * v + (c - '0');
    if (start) v = -v;
    if (v < 0 || v >= kListOpsClasses)
        return fmt::format("label {} out of range (expected 0..{})", shown(t), kListOpsClasses - 1);
    label = static_cast<int32_t>(v);
    return "";
}

// One row "Source<TAB>Target" (CR already removed) -> `e`. Returns "" or the reason.
std::string parse_row(std::string_view line, std::vector<int32_t>& scratch, Example& e) {
    const size_t tab = line.find('\t');
    if (tab == std::string_view::npos)
        return "1 field: expected 2 tab-separated fields (Source, Target); is the label missing?";
    if (line.find('\t', tab + 1) != std::string_view::npos)
        return fmt::format("{} fields: expected 2 tab-separated fields (Source, Target)",
                           1 + std::count(line.begin(), line.end(), '\t'));
    std::string why = parse_source(line.substr(0, tab), scratch);
    if (!why.empty()) return why;
    why = parse_label(line.substr(tab + 1), e.label);
    if (!why.empty()) return why;
    e.tokens.assign(scratch.begin(), scratch.end());
    return "";
}

Dataset read_impl(const std::string& path, const std::string& task, ReadProblems* problems) {
    std::error_code ec;
    if (fs::is_directory(path, ec))
        data_error(path, 0, "is a directory: give one file (e.g. basic_train.tsv), or use `rmaat data inspect DIR`");
    std::ifstream in(path, std::ios::binary);
    if (!in) data_error(path, 0, fmt::format("cannot open: {}", std::strerror(errno)));
    std::vector<char> buffer(1 << 20);
    in.rdbuf()->pubsetbuf(buffer.data(), static_cast<std::streamsize>(buffer.size()));

    Dataset d;
    d.task = task;
    d.source = path;
    d.vocab = listops_vocabulary();
    d.n_classes = kListOpsClasses;
    std::string line;
    if (!std::getline(in, line)) data_error(path, 0, "empty file: expected the header \"Source<TAB>Target\"");
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line != kHeader)
        data_error(path, 1,
                   fmt::format("wrong header \"{}\": expected \"Source<TAB>Target\" (LRA's ListOps TSV)", shown(line)));

    std::vector<int32_t> scratch;
    long number = 1, blank = 0;  // blank: the first of the empty lines just read (0: none)
    while (std::getline(in, line)) {
        ++number;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) {  // tolerated at the end of the file only
            if (!blank) blank = number;
            continue;
        }
        if (blank) {
            const std::string why = "empty line (every row is Source<TAB>Target)";
            if (!problems) data_error(path, blank, why);
            problems->add(fmt::format("{}:{}: {}", path, blank, why));
            blank = 0;
        }
        Example e;
        const std::string why = parse_row(line, scratch, e);
        if (!why.empty()) {
            if (!problems) data_error(path, number, why);
            problems->add(fmt::format("{}:{}: {}", path, number, why));
            continue;
        }
        if (problems) {
            const int value = walk(e.tokens.data(), e.tokens.size(), nullptr, nullptr);
            if (value != e.label)
                problems->add(
                    fmt::format("{}:{}: label {} but the expression evaluates to {}", path, number, e.label, value));
        }
        d.examples.push_back(std::move(e));
    }
    if (in.bad()) data_error(path, number, fmt::format("read error: {}", std::strerror(errno)));
    if (number == 1 || (d.examples.empty() && (!problems || problems->count == 0)))
        data_error(path, 0, "no example after the header");
    if (d.examples.empty()) data_error(path, 0, "no readable example (every row is malformed)");
    d.validate();
    return d;
}

// ------------------------------------------------------------------------------------------------
// Writing.

template <typename T>
void write_row(std::string& out, const T* tokens, size_t n, int label) {
    render(tokens, n, out);
    out += '\t';
    out += static_cast<char>('0' + label);
    out += "\r\n";
}

void check_written(std::ofstream& f, const std::string& path) {
    f.close();
    if (!f) throw RunError(fmt::format("{}: write failed: {}", path, std::strerror(errno)));
}

// ------------------------------------------------------------------------------------------------
// Generating. Expressions are kept as one byte per token (ids < 16) while they are drawn and
// deduplicated: the 100k expressions of the default splits then take ~100 MB, not 400.

bool draw(SplitMix64& rng, const ListOpsRules& r, int depth, int64_t stop_at, std::vector<int32_t>& out) {
    // LRA: r = random() at depth < max_depth, else 1; a leaf when r > VALUE_P = 1 - leaf probability.
    const bool leaf = depth >= r.max_depth || rng.uniform() > 1.0 - r.leaf_probability;
    if (leaf) {
        out.push_back(kListOpsDigit0 + static_cast<int32_t>(rng.below(10)));
        return static_cast<int64_t>(out.size()) < stop_at;
    }
    const size_t at = out.size();
    out.push_back(0);  // the operator, drawn after the arguments as LRA does
    const auto k = 2 + static_cast<int>(rng.below(static_cast<uint64_t>(r.max_args - 1)));
    for (int i = 0; i < k; ++i)
        if (!draw(rng, r, depth + 1, stop_at, out)) return false;
    out[at] = kListOpsMin + static_cast<int32_t>(rng.below(4));
    out.push_back(kListOpsEnd);
    return static_cast<int64_t>(out.size()) < stop_at;
}

// n distinct expressions in the order drawn (pointers into `seen`, stable across rehashing).
std::vector<const std::string*> draw_distinct(const ListOpsRules& r, int64_t n, uint64_t seed, bool progress,
                                              std::unordered_set<std::string>& seen) {
    SplitMix64 rng(seed);
    std::vector<const std::string*> order;
    order.reserve(static_cast<size_t>(n));
    seen.reserve(static_cast<size_t>(n));
    // A bar only for work that takes a while (~0.4 s on one core from 10k examples of the basic rules).
    const bool long_work = static_cast<double>(n) * static_cast<double>(r.max_length) >= 2e7;
    Progress bar(fmt::format("listops-{}: drawing expressions", r.variant), static_cast<double>(n), "samples",
                 progress && long_work);
    std::vector<int32_t> tree;
    while (static_cast<int64_t>(order.size()) < n) {
        tree.clear();
        if (!draw_listops_tree(rng, r, r.max_length, tree) || static_cast<int64_t>(tree.size()) <= r.min_length)
            continue;
        auto [it, inserted] = seen.emplace(tree.begin(), tree.end());
        if (!inserted) continue;
        order.push_back(&*it);
        bar.update(static_cast<double>(order.size()));
    }
    bar.finish();
    return order;
}

void check_counts(const ListOpsRules& r) {
    constexpr int64_t kMaxTotal = 10'000'000;
    const std::pair<const char*, int64_t> counts[] = {
        {"--n-train", r.n_train}, {"--n-val", r.n_val}, {"--n-test", r.n_test}};
    for (const auto& [name, n] : counts)
        if (n < 1) throw InputError(fmt::format("listops: {} {}: every split needs at least 1 example", name, n));
    if (r.n_train + r.n_val + r.n_test > kMaxTotal)
        throw InputError(fmt::format("listops: {} examples in all: at most {} (lower --n-train/--n-val/--n-test)",
                                     r.n_train + r.n_val + r.n_test, kMaxTotal));
}

}  // namespace

// ------------------------------------------------------------------------------------------------

Vocabulary listops_vocabulary() {
    Vocabulary v;
    v.name = "listops";
    v.symbols.assign(std::begin(kSymbols), std::end(kSymbols));
    return v;
}

ListOpsRules listops_rules(std::string_view variant) {
    ListOpsRules r;
    if (variant == "basic" || variant.empty()) return r;
    if (variant == "mini") {
        r.variant = "mini";
        r.min_length = 20;
        r.max_length = 100;
        r.n_train = 10000;
        r.n_val = 1000;
        r.n_test = 1000;
        return r;
    }
    throw InputError(fmt::format("unknown listops variant \"{}\" (known: basic, mini)", variant));
}

Dataset read_listops_tsv(const std::string& path) {
    return read_impl(path, "listops", nullptr);
}
Dataset scan_listops_tsv(const std::string& path, ReadProblems& problems) {
    return read_impl(path, "listops", &problems);
}
Dataset read_listops_tsv_as(const std::string& path, const std::string& task) {
    return read_impl(path, task, nullptr);
}
Dataset scan_listops_tsv_as(const std::string& path, const std::string& task, ReadProblems& problems) {
    return read_impl(path, task, &problems);
}

bool looks_like_listops(const std::string& path, std::string_view variant) {
    const fs::path p(path);
    if (p.extension() != ".tsv") return false;
    const bool mini = p.filename().string().rfind("mini_", 0) == 0;
    if (mini != (variant == "mini")) return false;
    std::ifstream in(path, std::ios::binary);
    std::string line;
    if (!std::getline(in, line)) return false;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line == kHeader;
}

std::string listops_source(const std::vector<int32_t>& tokens) {
    std::string s;
    render(tokens.data(), tokens.size(), s);
    return s;
}

void write_listops_tsv(const std::string& path, const std::vector<Example>& examples) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    if (!f) throw InputError(fmt::format("{}: cannot create: {}", path, std::strerror(errno)));
    std::string row(kHeader);
    row += "\r\n";
    for (const Example& e : examples) {
        f << row;
        row.clear();
        write_row(row, e.tokens.data(), e.tokens.size(), e.label);
    }
    f << row;
    check_written(f, path);
}

int evaluate_listops(const std::vector<int32_t>& tokens) {
    return walk(tokens.data(), tokens.size(), nullptr, nullptr);
}

ListOpsShape listops_shape(const std::vector<int32_t>& tokens) {
    ListOpsShape s;
    walk(tokens.data(), tokens.size(), &s, nullptr);
    return s;
}

bool draw_listops_tree(SplitMix64& rng, const ListOpsRules& rules, int64_t stop_at, std::vector<int32_t>& out) {
    return draw(rng, rules, 1, stop_at, out);
}

std::vector<Example> generate_listops(const ListOpsRules& rules, int64_t n, uint64_t seed, bool progress) {
    std::unordered_set<std::string> seen;
    std::vector<Example> out;
    for (const std::string* s : draw_distinct(rules, n, seed, progress, seen)) {
        Example e;
        e.tokens.assign(s->begin(), s->end());
        e.label = walk(s->data(), s->size(), nullptr, nullptr);
        out.push_back(std::move(e));
    }
    return out;
}

GenerateResult generate_listops_files(const GenerateOptions& o) {
    ListOpsRules r = listops_rules(o.variant);
    if (o.n_train >= 0) r.n_train = o.n_train;
    if (o.n_val >= 0) r.n_val = o.n_val;
    if (o.n_test >= 0) r.n_test = o.n_test;
    check_counts(r);
    if (o.out_dir.empty()) throw InputError("listops: no output directory (give -o DIR)");

    // Every check before any work: the directory, then files that would be overwritten.
    std::error_code ec;
    fs::create_directories(o.out_dir, ec);
    if (ec || !fs::is_directory(o.out_dir))
        throw InputError(fmt::format("{}: cannot create the output directory: {}", o.out_dir,
                                     ec ? ec.message() : "a file of that name exists"));
    const char* splits[] = {"train", "val", "test"};
    const int64_t counts[] = {r.n_train, r.n_val, r.n_test};
    GenerateResult result;
    for (const char* s : splits) {
        const std::string file = (fs::path(o.out_dir) / fmt::format("{}_{}.tsv", r.variant, s)).string();
        if (fs::exists(file) && !o.force)
            throw InputError(fmt::format("{} exists: give -f/--force to overwrite it, or another -o", file));
        result.files.push_back(file);
    }

    std::unordered_set<std::string> seen;
    const auto order = draw_distinct(r, r.n_train + r.n_val + r.n_test, o.seed, o.progress, seen);
    size_t next = 0;
    std::string row;
    for (int s = 0; s < 3; ++s) {
        const std::string partial = result.files[s] + ".partial";
        std::ofstream f(partial, std::ios::binary | std::ios::trunc);
        if (!f) throw InputError(fmt::format("{}: cannot create: {}", partial, std::strerror(errno)));
        row.assign(kHeader);
        row += "\r\n";
        for (int64_t i = 0; i < counts[s]; ++i, ++next) {
            const std::string& t = *order[next];
            write_row(row, t.data(), t.size(), walk(t.data(), t.size(), nullptr, nullptr));
            if (row.size() > (1u << 20)) {
                f << row;
                row.clear();
            }
        }
        f << row;
        try {
            check_written(f, partial);
        } catch (...) {
            fs::remove(partial, ec);
            throw;
        }
        fs::rename(partial, result.files[s], ec);
        if (ec) throw RunError(fmt::format("{}: cannot rename to {}: {}", partial, result.files[s], ec.message()));
        result.counts.push_back(counts[s]);
    }
    return result;
}

}  // namespace rmaat::tasks
