#include "tasks/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>

namespace rmaat::tasks {

namespace fs = std::filesystem;

namespace {

void check_max_bytes(int64_t max_bytes) {
    if (max_bytes < 1) throw InputError(fmt::format("max_bytes {}: must be >= 1", max_bytes));
}

// Opens a regular file for reading; DataError (line 0) when it is missing, not a file or empty.
std::ifstream open_nonempty(const std::string& file) {
    std::error_code ec;
    const fs::file_status st = fs::status(file, ec);
    if (ec || !fs::exists(st)) data_error(file, 0, "no such file");
    if (!fs::is_regular_file(st)) data_error(file, 0, "not a regular file");
    std::ifstream in(file, std::ios::binary);
    if (!in) data_error(file, 0, "cannot be opened");
    if (in.peek() == std::ifstream::traits_type::eof()) data_error(file, 0, "empty file");
    return in;
}

// Calls fn(line_number, line) for every line (1-based; \n and one \r before it removed).
void for_each_line(const std::string& file, const std::function<void(long, std::string&)>& fn) {
    std::ifstream in = open_nonempty(file);
    std::string line;
    long no = 0;
    while (std::getline(in, line)) {
        ++no;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        fn(no, line);
    }
    if (in.bad()) data_error(file, no + 1, "read error");
}

std::vector<std::string_view> split_tabs(std::string_view line) {
    std::vector<std::string_view> out;
    size_t start = 0;
    for (;;) {
        const size_t tab = line.find('\t', start);
        out.push_back(line.substr(start, tab == std::string_view::npos ? std::string_view::npos : tab - start));
        if (tab == std::string_view::npos) return out;
        start = tab + 1;
    }
}

std::string shown(std::string_view s) {
    constexpr size_t kMax = 20;
    return s.size() <= kMax ? fmt::format("'{}'", s) : fmt::format("'{}...'", s.substr(0, kMax));
}

bool all_digits(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A label written as an integer: exactly "0" or "1".
int32_t integer_label(std::string_view s, const std::string& file, long line) {
    const std::string_view digits = !s.empty() && (s[0] == '-' || s[0] == '+') ? s.substr(1) : s;
    if (!all_digits(digits))
        data_error(file, line, fmt::format("label {} is not an integer (expected 0 or 1)", shown(s)));
    if (s != "0" && s != "1") data_error(file, line, fmt::format("label {} outside {{0, 1}}", shown(s)));
    return s == "1" ? 1 : 0;
}

// A label written as a number, as LRA's float32 column reads it: 0 or 1, optionally with a fraction
// of zeros ("1", "1.0", "0.00").
int32_t number_label(std::string_view s, const std::string& file, long line) {
    const size_t dot = s.find('.');
    const std::string_view whole = s.substr(0, dot);
    const std::string_view frac = dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
    if (!all_digits(whole) || (dot != std::string_view::npos && !frac.empty() && !all_digits(frac)))
        data_error(file, line, fmt::format("label {} is not a number (expected 0 or 1)", shown(s)));
    const std::string_view value = whole.substr(std::min(whole.find_first_not_of('0'), whole.size()));
    const bool zero_frac = frac.find_first_not_of('0') == std::string_view::npos;
    if (!zero_frac || !(value.empty() || value == "1"))
        data_error(file, line, fmt::format("label {} is not 0 or 1", shown(s)));
    return value == "1" ? 1 : 0;
}

Dataset text_dataset(const std::string& task, const std::string& source, bool pair) {
    Dataset d;
    d.task = task;
    d.source = source;
    d.vocab = text_byte_vocabulary();
    d.n_classes = 2;
    d.pair = pair;
    return d;
}

// The reviews of one class directory, sorted by file name, appended with `label`.
void append_reviews(const fs::path& dir, int32_t label, int64_t max_bytes, Dataset& d) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
        data_error(dir.string(), 0,
                   "no such directory (expected the aclImdb layout <root>/{train,test}/{pos,neg}/*.txt)");
    std::vector<fs::path> files;
    fs::directory_iterator it(dir, ec);
    for (; !ec && it != fs::directory_iterator(); it.increment(ec))
        if (it->is_regular_file(ec) && it->path().extension() == ".txt") files.push_back(it->path());
    if (ec) data_error(dir.string(), 0, fmt::format("cannot be listed: {}", ec.message()));
    if (files.empty()) data_error(dir.string(), 0, "no review (*.txt) in this directory");
    std::sort(files.begin(), files.end(),
              [](const fs::path& a, const fs::path& b) { return a.filename().string() < b.filename().string(); });
    std::string buf;
    for (const fs::path& f : files) {
        const uint64_t size = fs::file_size(f, ec);
        if (ec) data_error(f.string(), 0, fmt::format("cannot read its size: {}", ec.message()));
        if (size == 0) data_error(f.string(), 0, "empty review: remove the file or give it its text");
        std::ifstream in(f, std::ios::binary);
        if (!in) data_error(f.string(), 0, "cannot be opened");
        buf.resize(static_cast<size_t>(std::min<uint64_t>(size, static_cast<uint64_t>(max_bytes))));
        in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
        if (static_cast<size_t>(in.gcount()) != buf.size()) data_error(f.string(), 0, "read error (file shrank?)");
        Example e;
        e.tokens = byte_tokens(buf, max_bytes);
        e.label = label;
        d.examples.push_back(std::move(e));
    }
}

}  // namespace

Vocabulary text_byte_vocabulary() {
    Vocabulary v;
    v.name = "bytes";
    v.symbols.reserve(257);
    v.symbols.push_back("<pad>");
    for (int b = 0; b < 256; ++b)
        v.symbols.push_back(b >= 0x21 && b <= 0x7e ? std::string(1, static_cast<char>(b))
                                                   : fmt::format("\\x{:02x}", b));
    return v;
}

std::vector<int32_t> byte_tokens(std::string_view text, int64_t max_bytes) {
    check_max_bytes(max_bytes);
    const size_t n = std::min<size_t>(text.size(), static_cast<size_t>(max_bytes));
    std::vector<int32_t> out(n);
    for (size_t i = 0; i < n; ++i) out[i] = int32_t(static_cast<unsigned char>(text[i])) + 1;
    return out;
}

Dataset read_imdb_dir(const std::string& root, const std::string& split, int64_t max_bytes) {
    check_max_bytes(max_bytes);
    if (split != "train" && split != "test")
        throw InputError(fmt::format("IMDb: unknown split \"{}\" (known: train, test)", split));
    const fs::path base = fs::path(root) / split;
    if (!fs::is_directory(root)) data_error(root, 0, "no such directory (expected the aclImdb directory)");
    Dataset d = text_dataset("text", base.string(), false);
    append_reviews(base / "neg", 0, max_bytes, d);
    append_reviews(base / "pos", 1, max_bytes, d);
    d.validate();
    return d;
}

Dataset read_text_tsv(const std::string& file, int64_t max_bytes) {
    check_max_bytes(max_bytes);
    Dataset d = text_dataset("text", file, false);
    for_each_line(file, [&](long no, std::string& line) {
        if (no == 1 && line == "label\ttext") return;  // the optional header
        const std::vector<std::string_view> cols = split_tabs(line);
        if (cols.size() != 2)
            data_error(file, no,
                       fmt::format("{} tab-separated column{}, expected 2: label<TAB>text (the text holds no tab)",
                                   cols.size(), cols.size() == 1 ? "" : "s"));
        Example e;
        e.label = integer_label(cols[0], file, no);
        if (cols[1].empty()) data_error(file, no, "empty text (column 2)");
        e.tokens = byte_tokens(cols[1], max_bytes);
        d.examples.push_back(std::move(e));
    });
    if (d.examples.empty()) data_error(file, 0, "no example (only a header)");
    d.validate();
    return d;
}

Dataset read_aan_tsv(const std::string& file, int64_t max_bytes) {
    check_max_bytes(max_bytes);
    Dataset d = text_dataset("retrieval", file, true);
    for_each_line(file, [&](long no, std::string& line) {
        const std::vector<std::string_view> cols = split_tabs(line);
        if (no == 1 && !cols.empty() && cols[0] == "label")
            data_error(file, no, "a header line: LRA's AAN files have none; remove it");
        if (cols.size() != 5)
            data_error(file, no,
                       fmt::format("{} tab-separated column{}, expected 5: label, id1, id2, text1, text2", cols.size(),
                                   cols.size() == 1 ? "" : "s"));
        Example e;
        e.label = number_label(cols[0], file, no);
        if (cols[3].empty()) data_error(file, no, "empty text1 (column 4)");
        if (cols[4].empty()) data_error(file, no, "empty text2 (column 5)");
        e.tokens = byte_tokens(cols[3], max_bytes);
        e.tokens2 = byte_tokens(cols[4], max_bytes);
        d.examples.push_back(std::move(e));
    });
    d.validate();
    return d;
}

}  // namespace rmaat::tasks
