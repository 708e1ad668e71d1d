// libFuzzer target: the data loaders of tasks/ (docs/design.md sections 6.3 and 9). The first byte of an
// input picks the format, the rest is the file, written to a scratch path and read the way the trainer
// and `rmaat data inspect` read it:
//   0 ListOps TSV (read_listops_tsv, and the scan that collects problems instead of stopping)
//   1 two-column text TSV (read_text_tsv)         2 LRA AAN retrieval TSV (read_aan_tsv)
//   3 CIFAR-10 binary batch (read_cifar10_batch)  4 IDX images (+ 2 valid labels), 5 IDX labels (+ images)
//   6 an 8-bit grayscale PNG of 32 x 32 (read_png_gray)
//   7 a Pathfinder metadata file (read_pathfinder on a split holding it and one valid image)
// Gzip input is read through zlib wherever a plain file is (CIFAR, IDX). Oracle (fuzz/support.hpp): a file
// is accepted or refused with an InputError (DataError); anything else is a crash. An accepted dataset must
// be consistent: every token inside its vocabulary (not padding), every label inside its classes.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "fuzz/support.hpp"
#include "tasks/dataset.hpp"
#include "tasks/image.hpp"
#include "tasks/listops.hpp"
#include "tasks/pathfinder.hpp"
#include "tasks/png_io.hpp"
#include "tasks/registry.hpp"
#include "tasks/text.hpp"

using namespace rmaat;

namespace {

constexpr int kFormats = 8;

// A dataset that a reader accepted must hold what its header promises.
void check_consistent(const tasks::Dataset& d) {
    const int32_t vocab = d.vocab.size();
    for (const auto& e : d.examples) {
        if (e.label < 0 || e.label >= d.n_classes) throw std::logic_error("label outside the classes");
        for (const auto* doc : {&e.tokens, &e.tokens2})
            for (int32_t t : *doc)
                if (t < 1 || t >= vocab) throw std::logic_error("token outside the vocabulary");
    }
}

struct Scratch {
    std::string dir, file, idx_images, idx_labels, split;
};
const Scratch* scratch = nullptr;

void write_valid_idx(const std::string& images, const std::string& labels) {
    // Two 2 x 2 images, labels 3 and 7: the smallest well-formed pair.
    const std::vector<std::uint8_t> img = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8};
    const std::vector<std::uint8_t> lab = {0, 0, 8, 1, 0, 0, 0, 2, 3, 7};
    fuzz::write_bytes(images, img.data(), img.size());
    fuzz::write_bytes(labels, lab.data(), lab.size());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    fuzz::quiet();
    const std::string dir = fuzz::scratch_dir();
    auto* s = new Scratch{dir, dir + "/input", dir + "/valid-images-idx3-ubyte", dir + "/valid-labels-idx1-ubyte",
                          dir + "/pathfinder"};
    write_valid_idx(s->idx_images, s->idx_labels);
    std::filesystem::create_directories(s->split + "/metadata");
    std::filesystem::create_directories(s->split + "/imgs/0");
    const std::vector<std::uint8_t> black(32 * 32, 0);
    tasks::write_png_gray(s->split + "/imgs/0/sample_0.png", black.data(), 32, 32);
    scratch = s;
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const Scratch& s = *scratch;
    const int format = data[0] % kFormats;
    const std::string path = format == 7 ? s.split + "/metadata/0.npy" : s.file;
    fuzz::write_bytes(path, data + 1, size - 1);
    auto read = [&](auto&& reader) { fuzz::accepts([&] { check_consistent(reader()); }); };
    switch (format) {
        case 0:
            read([&] { return tasks::read_listops_tsv(path); });
            fuzz::accepts([&] {
                tasks::ReadProblems problems;
                check_consistent(tasks::scan_listops_tsv(path, problems));
            });
            break;
        case 1: read([&] { return tasks::read_text_tsv(path, 512); }); break;
        case 2: read([&] { return tasks::read_aan_tsv(path, 512); }); break;
        case 3: read([&] { return tasks::read_cifar10_batch(path); }); break;
        case 4: read([&] { return tasks::read_idx(path, s.idx_labels); }); break;
        case 5: read([&] { return tasks::read_idx(s.idx_images, path); }); break;
        case 6: fuzz::accepts([&] { tasks::read_png_gray(path, 32, 32); }); break;
        case 7: read([&] { return tasks::read_pathfinder(s.split); }); break;
    }
    return 0;
}
