// tasks/image and tasks/text (docs/design.md section 6.3): CIFAR-10 binary batches, Fashion-MNIST
// IDX files (plain and gzip), byte-level IMDb (aclImdb directory and TSV), LRA's AAN TSV. Fixtures in
// tests/data/{cifar10,fashion_mnist,imdb,aan}/ are small files in the real formats, written by the
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

#include "tasks/batch.hpp"
#include "tasks/image.hpp"
#include "tasks/text.hpp"
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

std::vector<int32_t> ids_of(const std::string& bytes) {
    std::vector<int32_t> out;
    for (unsigned char c : bytes) out.push_back(int32_t(c) + 1);
    return out;
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

TEST_CASE("CIFAR-10: a gzip'ed batch reads as the plain one, one cut short is refused naming the record",
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

// ---------------------------------------------------------------------------------------------- text: IMDb

TEST_CASE("byte vocabulary: 257 ids, id 0 is padding, id b + 1 is byte b, documents truncated to max_bytes",
          "[tasks][media]") {
    const Vocabulary by = text_byte_vocabulary();
    CHECK(by.name == "bytes");
    CHECK(by.size() == 257);
    CHECK(by.symbols[0] == "<pad>");
    CHECK(by.symbols['a' + 1] == "a");
    CHECK(by.symbols[' ' + 1] == "\\x20");
    CHECK(by.symbols[0xc3 + 1] == "\\xc3");
    CHECK(byte_tokens("ab\xff", 2) == std::vector<int32_t>{98, 99});
    CHECK(byte_tokens("\xff") == std::vector<int32_t>{256});
    CHECK(byte_tokens(std::string(5000, 'x')).size() == size_t(kLraMaxBytes));
    CHECK_THROWS_AS(byte_tokens("x", 0), rmaat::InputError);
}

TEST_CASE("IMDb: the aclImdb layout reads neg (0) then pos (1), each sorted by file name, bytes + 1",
          "[tasks][media]") {
    const std::string root = fixture("imdb/aclImdb");
    const Dataset d = read_imdb_dir(root, "train");
    CHECK(d.task == "text");
    CHECK(d.source == root + "/train");
    CHECK(d.vocab.name == "bytes");
    CHECK(d.n_classes == 2);
    REQUIRE(d.examples.size() == 5);
    CHECK(labels_of(d) == std::vector<int32_t>{0, 0, 1, 1, 1});
    // byte order: "0_3.txt" < "10_2.txt"; "0_9.txt" < "1_7.txt" < "2_10.txt".
    CHECK(d.examples[0].tokens == ids_of("Dull.<br /><br />Two hours I will not get back."));
    CHECK(d.examples[1].tokens == ids_of("Bad acting, worse script."));
    CHECK(d.examples[2].tokens == ids_of("A caf\xc3\xa9 scene to remember."));  // UTF-8 stays 2 bytes
    CHECK(d.examples[3].tokens == ids_of("Good."));
    CHECK(d.examples[4].tokens.size() == 480);
    const Dataset cut = read_imdb_dir(root, "train", 16);  // longer reviews keep their first 16 bytes
    CHECK(cut.examples[0].tokens == ids_of("Dull.<br /><br /"));
    CHECK(cut.examples[3].tokens == ids_of("Good."));
    CHECK(labels_of(read_imdb_dir(root, "test")) == std::vector<int32_t>{0, 1});
}

TEST_CASE("IMDb: a missing class directory, a missing root, no review, an empty review, an unknown split",
          "[tasks][media]") {
    const std::string no_neg = fixture("imdb/malformed/aclImdb_no_neg");
    CHECK_THAT(data_error_of([&] { read_imdb_dir(no_neg, "train"); }),
               ContainsSubstring(no_neg + "/train/neg: no such directory (expected the aclImdb layout"));
    CHECK_THAT(data_error_of([&] { read_imdb_dir(no_neg, "test"); }),
               ContainsSubstring(no_neg + "/test/neg: no such directory"));
    const std::string none = fixture("imdb/no_such_dir");
    CHECK_THAT(data_error_of([&] { read_imdb_dir(none, "train"); }), ContainsSubstring(none + ": no such directory"));
    const std::string no_txt = fixture("imdb/malformed/aclImdb_no_txt");
    CHECK(data_error_of([&] { read_imdb_dir(no_txt, "train"); }) ==
          no_txt + "/train/neg: no review (*.txt) in this directory");
    const std::string empty = fixture("imdb/malformed/aclImdb_empty_review");
    CHECK_THAT(data_error_of([&] { read_imdb_dir(empty, "train"); }),
               ContainsSubstring(empty + "/train/neg/0_1.txt: empty review"));
    CHECK_THROWS_WITH(read_imdb_dir(fixture("imdb/aclImdb"), "unsup"), ContainsSubstring("unknown split \"unsup\""));
}

TEST_CASE("text TSV: label<TAB>text rows after an optional header, CRLF endings, truncation", "[tasks][media]") {
    const Dataset d = read_text_tsv(fixture("imdb/imdb.tsv"));
    CHECK(d.task == "text");
    REQUIRE(d.examples.size() == 3);
    CHECK(labels_of(d) == std::vector<int32_t>{1, 0, 1});
    CHECK(d.examples[0].tokens == ids_of("Loved it."));
    CHECK(d.examples[1].tokens == ids_of("Not for me."));  // the \r of \r\n is not text
    CHECK(d.examples[2].tokens == ids_of("Caf\xc3\xa9 <br /> ok"));
    CHECK(read_text_tsv(fixture("imdb/imdb.tsv"), 3).examples[1].tokens == ids_of("Not"));
}

TEST_CASE("text TSV: wrong column count, non-integer label, label out of range, empty text, empty file",
          "[tasks][media]") {
    const std::string m = fixture("imdb/malformed/");
    CHECK(data_error_of([&] { read_text_tsv(m + "columns.tsv"); }) ==
          m + "columns.tsv:3: 3 tab-separated columns, expected 2: label<TAB>text (the text holds no tab)");
    CHECK(data_error_of([&] { read_text_tsv(m + "label_word.tsv"); }) ==
          m + "label_word.tsv:2: label 'pos' is not an integer (expected 0 or 1)");
    CHECK(data_error_of([&] { read_text_tsv(m + "label_range.tsv"); }) ==
          m + "label_range.tsv:4: label '2' outside {0, 1}");
    CHECK(data_error_of([&] { read_text_tsv(m + "empty_text.tsv"); }) == m + "empty_text.tsv:2: empty text (column 2)");
    CHECK(data_error_of([&] { read_text_tsv(m + "empty.tsv"); }) == m + "empty.tsv: empty file");
    CHECK(data_error_of([&] { read_text_tsv(m + "header_only.tsv"); }) ==
          m + "header_only.tsv: no example (only a header)");
    CHECK(data_error_of([&] { read_text_tsv(m + "no_such.tsv"); }) == m + "no_such.tsv: no such file");
    CHECK(data_error_of([&] { read_text_tsv(m); }) == m + ": not a regular file");
}

// ---------------------------------------------------------------------------------------------- Retrieval: AAN

TEST_CASE("AAN TSV: label, id1, id2, text1, text2 -> two byte-level documents per example", "[tasks][media]") {
    const Dataset d = read_aan_tsv(fixture("aan/new_aan_pairs.eval.tsv"));
    CHECK(d.task == "retrieval");
    CHECK(d.pair);
    CHECK(d.n_classes == 2);
    CHECK(d.vocab.size() == 257);
    REQUIRE(d.examples.size() == 3);
    CHECK(labels_of(d) == std::vector<int32_t>{1, 0, 1});  // "1.0", "0.0", "1"
    // The texts byte for byte, the b'...' literal and its escapes included (LRA encodes the literal).
    CHECK(d.examples[0].tokens == ids_of("b'Parsing with\\ncontext-free grammars.'"));
    CHECK(d.examples[0].tokens2 == ids_of("b'Grammars and parsing.'"));
    CHECK(d.examples[2].tokens2 == ids_of("b'A method for automatic evaluation \xc3\xa9.'"));
    const Dataset cut = read_aan_tsv(fixture("aan/new_aan_pairs.eval.tsv"), 5);
    CHECK(cut.examples[1].tokens == ids_of("b'Par"));
    CHECK(cut.examples[1].tokens2 == ids_of("b'The"));
    // The Batcher takes it as a pair task.
    Batcher b(d, {2, 8, false, 1, 1, false});
    Batch batch;
    REQUIRE(b.next(batch));
    CHECK(batch.L2 % 8 == 0);
    CHECK(batch.lengths2[0] == int64_t(d.examples[0].tokens2.size()));
}

TEST_CASE("AAN TSV: wrong column count, non-numeric or non-binary label, a header, empty text, empty file",
          "[tasks][media]") {
    const std::string m = fixture("aan/malformed/");
    CHECK(data_error_of([&] { read_aan_tsv(m + "columns.tsv"); }) ==
          m + "columns.tsv:2: 4 tab-separated columns, expected 5: label, id1, id2, text1, text2");
    CHECK(data_error_of([&] { read_aan_tsv(m + "label_word.tsv"); }) ==
          m + "label_word.tsv:2: label 'yes' is not a number (expected 0 or 1)");
    CHECK(data_error_of([&] { read_aan_tsv(m + "label_half.tsv"); }) ==
          m + "label_half.tsv:1: label '0.5' is not 0 or 1");
    CHECK(data_error_of([&] { read_aan_tsv(m + "label_two.tsv"); }) == m + "label_two.tsv:3: label '2' is not 0 or 1");
    CHECK(data_error_of([&] { read_aan_tsv(m + "header.tsv"); }) ==
          m + "header.tsv:1: a header line: LRA's AAN files have none; remove it");
    CHECK(data_error_of([&] { read_aan_tsv(m + "empty_text2.tsv"); }) ==
          m + "empty_text2.tsv:2: empty text2 (column 5)");
    CHECK(data_error_of([&] { read_aan_tsv(m + "empty.tsv"); }) == m + "empty.tsv: empty file");
}
