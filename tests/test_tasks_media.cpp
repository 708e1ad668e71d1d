// tasks/image (docs/design.md section 6.3): CIFAR-10 binary batches, Fashion-MNIST IDX files (plain
// and gzip). Fixtures in tests/data/{cifar10,fashion_mnist}/ are small files in the real formats, written by the
// make_fixtures.py next to them; every malformed case has its own fixture and a "file[:line]: reason"
// check.
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "tasks/image.hpp"
#include "tests/catch.hpp"

using namespace rmaat::tasks;

namespace {

std::string fixture(const std::string& rel) {
    return std::string(RMAAT_SOURCE_DIR) + "/tests/data/" + rel;
}

// The message of the DataError that f throws ("" and a failed check when it throws none).
std::string data_error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const DataError& e) {
        const rmaat::InputError* as_input = &e;  // bad input: the CLI exits 2
        CHECK(as_input != nullptr);
        return e.what();
    }
    FAIL_CHECK("no DataError was thrown");
    return "";
}

std::vector<int32_t> labels_of(const Dataset& d) {
    std::vector<int32_t> out;
    for (const Example& e : d.examples) out.push_back(e.label);
    return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------- image: CIFAR-10

TEST_CASE("pixel vocabulary: 257 ids, id 0 is padding, id v + 1 is pixel value v", "[tasks][media]") {
    const Vocabulary px = image_pixel_vocabulary();
    CHECK(px.name == "pixels");
    CHECK(px.size() == 257);
    CHECK(px.symbols[0] == "<pad>");
    CHECK(px.symbols[1] == "0");
    CHECK(px.symbols[256] == "255");
}

TEST_CASE("LRA grayscale: TF's float32 rgb_to_grayscale truncated to uint8, not the rounded weighted sum",
          "[tasks][media]") {
    CHECK(int(lra_grayscale(0, 0, 0)) == 0);
    CHECK(int(lra_grayscale(255, 255, 255)) == 255);
    CHECK(int(lra_grayscale(0, 172, 0)) == 101);      // 0.587 * 172 = 100.96 -> * 255.5 / 255 = 101.16
    CHECK(int(lra_grayscale(69, 78, 10)) == 67);      // 67.37 * 255.5 / 255 = 67.50: 67 (rounded sum: 68)
    CHECK(int(lra_grayscale(128, 155, 248)) == 157);  // rounded sum: 158
    // Against the exact formula floor((0.2989 R + 0.587 G + 0.114 B) * 255.5 / 255) in double: float32
    // rounding moves a few colours across an integer, by one at most.
    long differ = 0;
    int worst = 0;
    for (int r = 0; r < 256; ++r)
        for (int g = 0; g < 256; ++g)
            for (int b = 0; b < 256; ++b) {
                const int exact = int(std::floor((0.2989 * r + 0.587 * g + 0.114 * b) * 255.5 / 255.0));
                const int d = std::abs(int(lra_grayscale(uint8_t(r), uint8_t(g), uint8_t(b))) - exact);
                differ += d != 0;
                worst = std::max(worst, d);
            }
    CHECK(worst <= 1);
    CHECK(differ < 1000);  // 237 of 2^24 with TF's float32 order of operations
}

TEST_CASE("CIFAR-10: the fixture batches read as LRA's grayscale tokens, 1024 per image, in file order",
          "[tasks][media]") {
    const Dataset test = read_cifar10(fixture("cifar10"), "test");
    CHECK(test.task == "image");
    CHECK(test.source == fixture("cifar10"));
    CHECK(test.vocab.size() == 257);
    CHECK(test.n_classes == 10);
    CHECK_FALSE(test.pair);
    REQUIRE(test.examples.size() == 2);
    CHECK(labels_of(test) == std::vector<int32_t>{3, 9});
    // numpy's float32 emulation of tf.image.rgb_to_grayscale, written by make_fixtures.py.
    std::ifstream expected(fixture("cifar10/expected_gray_test_batch.txt"));
    for (const Example& e : test.examples) {
        std::string line;
        REQUIRE(std::getline(expected, line));
        std::istringstream ss(line);
        std::vector<int32_t> want;
        for (int32_t v; ss >> v;) want.push_back(v);
        REQUIRE(want.size() == 1024);
        CHECK(e.tokens == want);
        CHECK(e.tokens2.empty());
    }
    CHECK(test.examples[0].tokens[0] == 256);  // white
    CHECK(test.examples[0].tokens[1] == 1);    // black: pixel 0, token 1 (0 is padding)

    const Dataset train = read_cifar10(fixture("cifar10"), "train");  // data_batch_1..5.bin
    CHECK(labels_of(train) == std::vector<int32_t>{0, 1, 2, 4, 5, 6, 7});
    for (const Example& e : train.examples) CHECK(e.tokens.size() == 1024);

    const Dataset one = read_cifar10_batch(fixture("cifar10/data_batch_1.bin"));
    CHECK(one.source == fixture("cifar10/data_batch_1.bin"));
    CHECK(labels_of(one) == std::vector<int32_t>{0, 1, 2});
}

TEST_CASE("CIFAR-10: a truncated batch (size not a multiple of 3073) is refused naming the cut record",
          "[tasks][media]") {
    const std::string f = fixture("cifar10/malformed/truncated.bin");
    const std::string msg = data_error_of([&] { read_cifar10_batch(f); });
    CHECK_THAT(msg, ContainsSubstring(f + ": truncated: 6246 bytes is not a multiple of the 3073-byte record"));
    CHECK_THAT(msg, ContainsSubstring("record 2 at byte offset 6146 has only 100 bytes"));
}

TEST_CASE("CIFAR-10: a gzip'ed batch reads as the plain one; one cut short is refused naming the record",
          "[tasks][media]") {
    const Dataset plain = read_cifar10_batch(fixture("cifar10/data_batch_1.bin"));
    const Dataset gz = read_cifar10_batch(fixture("cifar10/data_batch_1.bin.gz"));
    REQUIRE(gz.examples.size() == plain.examples.size());
    for (size_t i = 0; i < gz.examples.size(); ++i) {
        CHECK(gz.examples[i].tokens == plain.examples[i].tokens);
        CHECK(gz.examples[i].label == plain.examples[i].label);
    }
    const std::string f = fixture("cifar10/malformed/cut.bin.gz");
    CHECK_THAT(data_error_of([&] { read_cifar10_batch(f); }),
               ContainsSubstring(f + ": truncated: record 2 at uncompressed byte offset 6146 has only"));
}

TEST_CASE("CIFAR-10: a label outside 0..9 is refused naming the record and its byte offset", "[tasks][media]") {
    const std::string f = fixture("cifar10/malformed/label.bin");
    CHECK_THAT(data_error_of([&] { read_cifar10_batch(f); }),
               ContainsSubstring(f + ": record 1 at byte offset 3073: label 10 outside 0..9"));
}

TEST_CASE("CIFAR-10: an empty batch, a missing batch file, a missing directory, an unknown split", "[tasks][media]") {
    const std::string empty = fixture("cifar10/malformed/empty.bin");
    CHECK(data_error_of([&] { read_cifar10_batch(empty); }) == empty + ": empty file");
    const std::string dir = fixture("cifar10/malformed");
    CHECK(data_error_of([&] { read_cifar10(dir, "train"); }) == dir + "/data_batch_1.bin: no such file");
    const std::string none = fixture("cifar10/no_such_dir");
    CHECK_THAT(data_error_of([&] { read_cifar10(none, "test"); }), ContainsSubstring(none + ": no such directory"));
    CHECK_THROWS_WITH(read_cifar10(fixture("cifar10"), "valid"),
                      ContainsSubstring("unknown split \"valid\" (known: train, test)"));
}

// ---------------------------------------------------------------------------------------------- image: IDX

TEST_CASE("Fashion-MNIST: plain and gzip'ed IDX fixtures read by split name, 784 tokens, pixel + 1", "[tasks][media]") {
    const Dataset train = read_fashion_mnist("train", fixture("fashion_mnist"));  // plain IDX
    const Dataset test = read_fashion_mnist("test", fixture("fashion_mnist"));    // .gz
    CHECK(train.source == fixture("fashion_mnist/train-images-idx3-ubyte"));
    CHECK(test.source == fixture("fashion_mnist/t10k-images-idx3-ubyte.gz"));
    CHECK(labels_of(train) == std::vector<int32_t>{0, 1, 2});
    CHECK(labels_of(test) == std::vector<int32_t>{9, 0, 0, 3, 9});
    for (const Dataset* d : {&train, &test}) {
        CHECK(d->task == "image");
        CHECK(d->vocab.name == "pixels");
        CHECK(d->n_classes == 10);
        for (size_t i = 0; i < d->examples.size(); ++i) {
            const std::vector<int32_t>& t = d->examples[i].tokens;
            REQUIRE(t.size() == 784);
            bool all = true;
            for (int p = 0; p < 784; ++p) all = all && t[p] == (7 * int(i) + p) % 256 + 1;
            CHECK(all);
        }
    }
    CHECK_THROWS_WITH(read_fashion_mnist("validation", fixture("fashion_mnist")),
                      ContainsSubstring("unknown split \"validation\""));
    const std::string nowhere = fixture("fashion_mnist/malformed");
    CHECK_THAT(data_error_of([&] { read_fashion_mnist("train", nowhere); }),
               ContainsSubstring("train-images-idx3-ubyte.gz: no such file (nor train-images-idx3-ubyte): the "
                                 "Fashion-MNIST train split is not in"));
}

TEST_CASE("IDX: a wrong magic number is refused in either file", "[tasks][media]") {
    const std::string m = fixture("fashion_mnist/malformed/");
    CHECK_THAT(data_error_of([&] { read_idx(m + "images_wrong_magic", m + "labels3"); }),
               ContainsSubstring(m + "images_wrong_magic: byte offset 0: magic 0x00000801 is not an IDX image file "
                                     "(0x00000803: unsigned bytes, 3 dimensions)"));
    CHECK_THAT(
        data_error_of([&] { read_idx(fixture("fashion_mnist/train-images-idx3-ubyte"), m + "labels_wrong_magic"); }),
        ContainsSubstring(m + "labels_wrong_magic: byte offset 0: magic 0x00000803 is not an IDX label file"));
}

TEST_CASE("IDX: truncated image files are refused naming the incomplete image (plain, gzip, cut gzip, header)",
          "[tasks][media]") {
    const std::string m = fixture("fashion_mnist/malformed/");
    CHECK_THAT(data_error_of([&] { read_idx(m + "images_truncated", m + "labels3"); }),
               ContainsSubstring(m + "images_truncated: truncated: the header declares 3 x 28 x 28 images (2368 "
                                     "bytes with the header) but the file has 1976 bytes; image 2 at byte offset "
                                     "1584 is incomplete"));
    CHECK_THAT(data_error_of([&] { read_idx(m + "images_truncated.gz", m + "labels3"); }),
               ContainsSubstring(m + "images_truncated.gz: truncated: image 2 at uncompressed byte offset 1584 is "
                                     "incomplete; the header declares 3 images"));
    const std::string t10k_labels = fixture("fashion_mnist/t10k-labels-idx1-ubyte.gz");
    CHECK_THAT(data_error_of([&] { read_idx(m + "images_cut.gz", t10k_labels); }),
               ContainsSubstring(m + "images_cut.gz: truncated: image 0 at uncompressed byte offset 16 is incomplete "
                                     "(gzip: unexpected end of file); the header declares 5 images"));
    CHECK_THAT(
        data_error_of([&] { read_idx(m + "images_header_cut", m + "labels3"); }),
        ContainsSubstring(m + "images_header_cut: truncated IDX header: dimension 1 (byte offset 8) is missing"));
}

TEST_CASE("IDX: a header count far beyond the file is refused before anything is allocated for it", "[tasks][media]") {
    const std::string m = fixture("fashion_mnist/malformed/");
    // 2^31 - 1 images of 28 x 28 = 1.7 TB declared in a 2 KB file: the size check comes first.
    CHECK_THAT(data_error_of([&] { read_idx(m + "images_huge_count", m + "labels3"); }),
               ContainsSubstring("images_huge_count: truncated: the header declares 2147483647 x 28 x 28 images"));
    CHECK_THAT(data_error_of([&] { read_idx(m + "images_huge_count.gz", m + "labels3"); }),
               ContainsSubstring("images_huge_count.gz: the header declares 2147483647 x 28 x 28 images "
                                 "(1683627179264 bytes), more than a gzip file of 329 bytes can hold"));
}

TEST_CASE("IDX: count mismatch, label out of range, trailing data, a zero dimension, empty files", "[tasks][media]") {
    const std::string m = fixture("fashion_mnist/malformed/");
    const std::string images = fixture("fashion_mnist/train-images-idx3-ubyte");
    CHECK_THAT(data_error_of([&] { read_idx(images, m + "labels2"); }),
               ContainsSubstring(images + ": 3 images but the label file " + m +
                                 "labels2 declares 2 labels: the two files are not a pair"));
    CHECK_THAT(data_error_of([&] { read_idx(images, m + "labels_range"); }),
               ContainsSubstring(m + "labels_range: label 1 at byte offset 9: 10 outside 0..9"));
    CHECK_THAT(data_error_of([&] { read_idx(m + "images_trailing", m + "labels3"); }),
               ContainsSubstring(m + "images_trailing: 5 bytes of trailing data after the last image (byte offset "
                                     "2368)"));
    CHECK_THAT(data_error_of([&] { read_idx(m + "images_zero_rows", m + "labels3"); }),
               ContainsSubstring(m + "images_zero_rows: byte offset 8: dimension 1 is 0"));
    CHECK(data_error_of([&] { read_idx(m + "empty", m + "labels3"); }) == m + "empty: empty file");
    CHECK(data_error_of([&] { read_idx(images, m + "empty"); }) == m + "empty: empty file");
    CHECK(data_error_of([&] { read_idx(images, m + "no_such_labels"); }) == m + "no_such_labels: no such file");
}

TEST_CASE("Fashion-MNIST: the installed test split has 10000 images of 784 tokens, 1000 per class", "[tasks][media]") {
    if (!std::filesystem::exists(std::string(kFashionMnistDir) + "/t10k-images-idx3-ubyte.gz")) {
        WARN("dataset-fashion-mnist is not installed (" << kFashionMnistDir << "): skipping the real test split");
        return;
    }
    const Dataset d = read_fashion_mnist("test");
    REQUIRE(d.examples.size() == 10000);
    std::vector<int> per_class(10, 0);
    for (const Example& e : d.examples) {
        REQUIRE(e.tokens.size() == 784);
        ++per_class[e.label];
    }
    CHECK(per_class == std::vector<int>(10, 1000));
}

// Not a test: the loading throughput of the real train split. Run: test_tasks_media "[bench]"
TEST_CASE("Fashion-MNIST train split loading throughput", "[.][bench]") {
    if (!std::filesystem::exists(std::string(kFashionMnistDir) + "/train-images-idx3-ubyte.gz")) {
        WARN("dataset-fashion-mnist is not installed");
        return;
    }
    for (int rep = 0; rep < 3; ++rep) {
        const auto t0 = std::chrono::steady_clock::now();
        const Dataset d = read_fashion_mnist("train");
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        WARN("Fashion-MNIST train: " << d.examples.size() << " images in " << s
                                     << " s = " << double(d.examples.size()) / s << " samples/s");
    }
}
