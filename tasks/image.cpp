#include "tasks/image.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>

namespace rmaat::tasks {

namespace fs = std::filesystem;

namespace {

// The most bytes deflate can expand to per compressed byte (zlib's technical details: 1032:1), so
// a gzip file of n bytes cannot hold more than this many uncompressed bytes.
constexpr uint64_t kMaxDeflateRatio = 1032;
constexpr uint32_t kIdxImagesMagic = 0x00000803;  // unsigned bytes, 3 dimensions
constexpr uint32_t kIdxLabelsMagic = 0x00000801;  // unsigned bytes, 1 dimension

// The size of a regular file; DataError when it is missing or not a regular file.
uint64_t regular_file_size(const std::string& file) {
    std::error_code ec;
    const fs::file_status st = fs::status(file, ec);
    if (ec || !fs::exists(st)) data_error(file, 0, "no such file");
    if (!fs::is_regular_file(st)) data_error(file, 0, "not a regular file");
    const uint64_t size = fs::file_size(file, ec);
    if (ec) data_error(file, 0, fmt::format("cannot read its size: {}", ec.message()));
    return size;
}

// Sequential bytes of a plain or gzip file (zlib reads a file without the gzip magic unchanged).
// offset() counts the bytes delivered: for a gzip file, an offset in the uncompressed stream.
class ByteReader {
public:
    explicit ByteReader(const std::string& file) : file_(file), file_size_(regular_file_size(file)) {
        gz_ = gzopen(file.c_str(), "rb");
        if (gz_ == nullptr) data_error(file, 0, fmt::format("cannot be opened: {}", std::strerror(errno)));
        gzbuffer(gz_, 1 << 17);
        // gzdirect() is only reliable after the first read fills the buffer.
        const int c = gzgetc(gz_);
        if (c != -1) gzungetc(c, gz_);
        compressed_ = gzdirect(gz_) == 0;
    }
    ~ByteReader() { gzclose(gz_); }
    ByteReader(const ByteReader&) = delete;
    ByteReader& operator=(const ByteReader&) = delete;

    // Up to n bytes; fewer only at the end of the data (then damage() says whether a gzip stream
    // was cut short). DataError on damaged gzip data (a bad block, a wrong check sum).
    size_t read(uint8_t* out, size_t n) {
        size_t got = 0;
        while (got < n) {
            const unsigned chunk = static_cast<unsigned>(std::min<size_t>(n - got, 1u << 30));
            const int r = gzread(gz_, out + got, chunk);
            if (r < 0)
                data_error(
                    file_, 0,
                    fmt::format("damaged gzip data at uncompressed byte offset {}: {}", offset_ + got, damage()));
            if (r == 0) break;
            got += static_cast<size_t>(r);
        }
        offset_ += got;
        return got;
    }
    // zlib's complaint about the stream ("unexpected end of file" for a cut gzip file), or "".
    std::string damage() {
        int code = Z_OK;
        const char* msg = gzerror(gz_, &code);
        if (code == Z_OK || code == Z_STREAM_END || msg == nullptr) return "";
        std::string m = msg;
        if (m.rfind(file_ + ": ", 0) == 0) m.erase(0, file_.size() + 2);  // zlib prefixes the path
        return m;
    }
    bool at_end() {
        uint8_t b;
        return read(&b, 1) == 0;
    }
    bool compressed() const { return compressed_; }
    uint64_t file_size() const { return file_size_; }
    uint64_t offset() const { return offset_; }
    const std::string& file() const { return file_; }
    // "byte offset" or "uncompressed byte offset", for messages.
    std::string where(uint64_t off) const {
        return fmt::format("{}byte offset {}", compressed_ ? "uncompressed " : "", off);
    }

private:
    std::string file_;
    uint64_t file_size_ = 0;
    gzFile gz_ = nullptr;
    bool compressed_ = false;
    uint64_t offset_ = 0;
};

uint32_t big_endian_u32(const uint8_t* p) {
    return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

// An IDX header: its dimensions and sizes. `what` ("image", "label") names the items in messages.
struct IdxHeader {
    std::vector<uint64_t> dims;
    uint64_t header_bytes = 0;
    uint64_t payload_bytes = 0;  // product of the dimensions (one byte each)
};

IdxHeader read_idx_header(ByteReader& in, uint32_t magic, const char* what) {
    std::array<uint8_t, 4> word{};
    const size_t got = in.read(word.data(), 4);
    if (got == 0) data_error(in.file(), 0, "empty file");
    if (got < 4) data_error(in.file(), 0, fmt::format("truncated IDX header: {} of the 4 magic bytes", got));
    const uint32_t m = big_endian_u32(word.data());
    const uint32_t ndim = magic & 0xff;
    if (m != magic)
        data_error(in.file(), 0,
                   fmt::format("byte offset 0: magic 0x{:08x} is not an IDX {} file (0x{:08x}: unsigned bytes, {} "
                               "dimension{}); give the {} file here",
                               m, what, magic, ndim, ndim == 1 ? "" : "s", what));
    IdxHeader h;
    h.header_bytes = 4 + 4 * uint64_t(ndim);
    h.payload_bytes = 1;
    for (uint32_t d = 0; d < ndim; ++d) {
        if (in.read(word.data(), 4) < 4)
            data_error(in.file(), 0,
                       fmt::format("truncated IDX header: dimension {} (byte offset {}) is missing", d, 4 + 4 * d));
        const uint64_t v = big_endian_u32(word.data());
        if (v == 0) data_error(in.file(), 0, fmt::format("byte offset {}: dimension {} is 0", 4 + 4 * d, d));
        if (h.payload_bytes > (std::numeric_limits<uint64_t>::max() - h.header_bytes) / v)
            data_error(in.file(), 0, "the dimensions in the header multiply beyond 2^64 bytes: the header is corrupt");
        h.payload_bytes *= v;
        h.dims.push_back(v);
    }
    return h;
}

// The declared size against what the file can hold, before anything is allocated for it.
void check_idx_size(const ByteReader& in, const IdxHeader& h, const char* what) {
    const uint64_t declared = h.header_bytes + h.payload_bytes;
    const std::string dims = fmt::format("{}", fmt::join(h.dims, " x "));
    if (!in.compressed()) {
        if (in.file_size() < declared) {
            const uint64_t item_bytes = h.payload_bytes / h.dims[0];
            const uint64_t first_missing = (in.file_size() - h.header_bytes) / item_bytes;
            data_error(in.file(), 0,
                       fmt::format("truncated: the header declares {} {}s ({} bytes with the header) but the file has "
                                   "{} bytes; {} {} at byte offset {} is incomplete",
                                   dims, what, declared, in.file_size(), what, first_missing,
                                   h.header_bytes + first_missing * item_bytes));
        }
        if (in.file_size() > declared)
            data_error(
                in.file(), 0,
                fmt::format("{} bytes of trailing data after the last {} (byte offset {}): the header declares {} "
                            "{}s",
                            in.file_size() - declared, what, declared, dims, what));
    } else if (h.payload_bytes / kMaxDeflateRatio > in.file_size()) {
        data_error(in.file(), 0,
                   fmt::format("the header declares {} {}s ({} bytes), more than a gzip file of {} bytes can hold: "
                               "the header is corrupt",
                               dims, what, declared, in.file_size()));
    }
}

// How many items to reserve for n declared ones: all of them for a plain file (its size was checked),
// else at most what a gzip file of typical ratio (4:1) holds; vectors grow beyond if the data is there.
uint64_t reserve_hint(const ByteReader& in, uint64_t n, uint64_t item_bytes) {
    if (!in.compressed()) return n;
    return std::min(n, (4 * in.file_size()) / item_bytes + 1);
}

// Reads the payload bytes of items [first, first + count) into out; a short read is a truncated
// file naming the first incomplete item.
void read_items(ByteReader& in, uint8_t* out, uint64_t first, uint64_t count, const IdxHeader& h, const char* what) {
    const uint64_t item_bytes = h.payload_bytes / h.dims[0];
    const uint64_t start = in.offset();
    const uint64_t got = in.read(out, count * item_bytes);
    if (got < count * item_bytes) {
        const std::string damage = in.damage();
        data_error(in.file(), 0,
                   fmt::format("truncated: {} {} at {} is incomplete{}; the header declares {} {}s", what,
                               first + got / item_bytes, in.where(start + (got / item_bytes) * item_bytes),
                               damage.empty() ? "" : " (gzip: " + damage + ")", h.dims[0], what));
    }
}

void check_end(ByteReader& in, const char* what) {
    const uint64_t end = in.offset();
    if (!in.at_end())
        data_error(in.file(), 0, fmt::format("trailing data after the last {} at {}", what, in.where(end)));
    const std::string damage = in.damage();  // e.g. the gzip trailer (check sum, length) cut off
    if (!damage.empty())
        data_error(in.file(), 0,
                   fmt::format("damaged gzip data after the last {} at {}: {}", what, in.where(end), damage));
}

Dataset image_dataset(const std::string& source, int32_t n_classes) {
    Dataset d;
    d.task = "image";
    d.source = source;
    d.vocab = image_pixel_vocabulary();
    d.n_classes = n_classes;
    d.pair = false;
    return d;
}

// Appends the records of one CIFAR-10 batch file to d.
void append_cifar10(const std::string& file, Dataset& d) {
    ByteReader in(file);
    if (in.file_size() == 0) data_error(file, 0, "empty file");
    if (!in.compressed()) {
        if (in.file_size() % kCifarRecordBytes != 0) {
            const uint64_t full = in.file_size() / kCifarRecordBytes;
            data_error(file, 0,
                       fmt::format("truncated: {} bytes is not a multiple of the {}-byte record (1 label byte + 3 x "
                                   "1024 pixel bytes); record {} at byte offset {} has only {} bytes",
                                   in.file_size(), kCifarRecordBytes, full, full * kCifarRecordBytes,
                                   in.file_size() % kCifarRecordBytes));
        }
        d.examples.reserve(d.examples.size() + in.file_size() / kCifarRecordBytes);
    }
    std::vector<uint8_t> rec(kCifarRecordBytes);
    for (uint64_t r = 0;; ++r) {
        const uint64_t off = in.offset();
        const size_t got = in.read(rec.data(), rec.size());
        if (got == 0) {
            const std::string damage = in.damage();  // a gzip file cut between records
            if (!damage.empty())
                data_error(file, 0, fmt::format("damaged gzip data at record {} ({}): {}", r, in.where(off), damage));
            if (r == 0) data_error(file, 0, "empty file (gzip data without a record)");
            break;
        }
        if (got < rec.size()) {
            const std::string damage = in.damage();
            data_error(file, 0,
                       fmt::format("truncated: record {} at {} has only {} of its {} bytes{}", r, in.where(off), got,
                                   kCifarRecordBytes, damage.empty() ? "" : " (gzip: " + damage + ")"));
        }
        if (rec[0] >= kCifarClasses)
            data_error(file, 0,
                       fmt::format("record {} at {}: label {} outside 0..{} (a CIFAR-100 file has 2 label bytes per "
                                   "record and is not read here)",
                                   r, in.where(off), int(rec[0]), kCifarClasses - 1));
        Example e;
        e.label = rec[0];
        e.tokens.resize(kCifarPixels);
        const uint8_t* red = rec.data() + 1;
        const uint8_t* green = red + kCifarPixels;
        const uint8_t* blue = green + kCifarPixels;
        for (int32_t p = 0; p < kCifarPixels; ++p) e.tokens[p] = int32_t(lra_grayscale(red[p], green[p], blue[p])) + 1;
        d.examples.push_back(std::move(e));
    }
}

}  // namespace

Vocabulary image_pixel_vocabulary() {
    Vocabulary v;
    v.name = "pixels";
    v.symbols.reserve(257);
    v.symbols.push_back("<pad>");
    for (int i = 0; i < 256; ++i) v.symbols.push_back(std::to_string(i));
    return v;
}

// image.cpp is compiled with -ffp-contract=off (tasks/CMakeLists.txt): the products are rounded to
// float32 before they are added, as in TF's tensordot without FMA.
uint8_t lra_grayscale(uint8_t r, uint8_t g, uint8_t b) {
    const float inv = static_cast<float>(1.0 / 255.0);  // TF: cast(image) * (1. / dtype.max)
    const float fr = static_cast<float>(r) * inv;
    const float fg = static_cast<float>(g) * inv;
    const float fb = static_cast<float>(b) * inv;
    const float wr = 0.2989f, wg = 0.5870f, wb = 0.1140f;
    const float y = (fr * wr + fg * wg) + fb * wb;
    const float scaled = y * 255.5f;      // TF: float -> uint8 scales by (dtype.max + 0.5), then casts
    return static_cast<uint8_t>(scaled);  // in [0, 255.48]: truncation toward zero
}

Dataset read_cifar10_batch(const std::string& file) {
    return read_cifar10_files({file}, file);
}

Dataset read_cifar10_files(const std::vector<std::string>& files, const std::string& source) {
    Dataset d = image_dataset(source, kCifarClasses);
    for (const std::string& f : files) append_cifar10(f, d);
    d.validate();
    return d;
}

Dataset read_cifar10(const std::string& dir, const std::string& split) {
    std::vector<std::string> names;
    if (split == "train") {
        for (int i = 1; i <= 5; ++i) names.push_back(fmt::format("data_batch_{}.bin", i));
    } else if (split == "test") {
        names.push_back("test_batch.bin");
    } else {
        throw InputError(fmt::format("CIFAR-10: unknown split \"{}\" (known: train, test)", split));
    }
    if (!fs::is_directory(dir))
        data_error(dir, 0, "no such directory (expected the CIFAR-10 binary layout cifar-10-batches-bin/)");
    std::vector<std::string> files;
    for (const std::string& n : names) files.push_back((fs::path(dir) / n).string());
    return read_cifar10_files(files, dir);
}

Dataset read_idx(const std::string& images_file, const std::string& labels_file, int32_t n_classes) {
    if (n_classes < 2 || n_classes > 256)
        throw InputError(fmt::format("read_idx: {} classes: byte labels allow 2..256", n_classes));
    ByteReader labels_in(labels_file);
    ByteReader images_in(images_file);
    const IdxHeader lh = read_idx_header(labels_in, kIdxLabelsMagic, "label");
    const IdxHeader ih = read_idx_header(images_in, kIdxImagesMagic, "image");
    check_idx_size(labels_in, lh, "label");
    check_idx_size(images_in, ih, "image");
    const uint64_t n = ih.dims[0];
    if (lh.dims[0] != n)
        data_error(images_file, 0,
                   fmt::format("{} images but the label file {} declares {} labels: the two files are not a pair", n,
                               labels_file, lh.dims[0]));
    const uint64_t pixels = ih.dims[1] * ih.dims[2];
    if (pixels > uint64_t(std::numeric_limits<int32_t>::max()))
        data_error(images_file, 0, fmt::format("{} x {} pixels per image: too many tokens", ih.dims[1], ih.dims[2]));

    std::vector<uint8_t> labels;
    labels.reserve(reserve_hint(labels_in, n, 1));
    for (uint64_t first = 0; first < n;) {  // in chunks: a gzip header's count is not trusted
        const uint64_t count = std::min<uint64_t>(n - first, 1 << 16);
        labels.resize(first + count);
        read_items(labels_in, labels.data() + first, first, count, lh, "label");
        first += count;
    }
    check_end(labels_in, "label");
    for (uint64_t i = 0; i < n; ++i)
        if (labels[i] >= n_classes)
            data_error(labels_file, 0,
                       fmt::format("label {} at {}: {} outside 0..{}", i, labels_in.where(lh.header_bytes + i),
                                   int(labels[i]), n_classes - 1));

    Dataset d = image_dataset(images_file, n_classes);
    d.examples.reserve(reserve_hint(images_in, n, pixels));
    std::vector<uint8_t> image(pixels);
    for (uint64_t i = 0; i < n; ++i) {
        read_items(images_in, image.data(), i, 1, ih, "image");
        Example e;
        e.label = labels[i];
        e.tokens.resize(pixels);
        for (uint64_t p = 0; p < pixels; ++p) e.tokens[p] = int32_t(image[p]) + 1;
        d.examples.push_back(std::move(e));
    }
    check_end(images_in, "image");
    d.validate();
    return d;
}

Dataset read_fashion_mnist(const std::string& split, const std::string& dir) {
    std::string prefix;
    if (split == "train")
        prefix = "train";
    else if (split == "test")
        prefix = "t10k";
    else
        throw InputError(fmt::format("Fashion-MNIST: unknown split \"{}\" (known: train, test)", split));
    auto find = [&](const std::string& base) {
        const fs::path p = fs::path(dir) / base;
        for (const std::string& name : {p.string() + ".gz", p.string()})
            if (fs::exists(name)) return name;
        data_error(p.string() + ".gz", 0,
                   fmt::format("no such file (nor {}): the Fashion-MNIST {} split is not in {}; install the Debian "
                               "package dataset-fashion-mnist (scripts/setup.sh) or give the directory that holds it",
                               p.filename().string(), split, dir));
    };
    const std::string images = find(prefix + "-images-idx3-ubyte");
    const std::string labels = find(prefix + "-labels-idx1-ubyte");
    return read_idx(images, labels, 10);
}

}  // namespace rmaat::tasks
