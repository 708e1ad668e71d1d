#pragma once
// Image tasks (docs/design.md section 6.3): CIFAR-10 binary batches as LRA's Image task and
// Fashion-MNIST IDX files, each image one sequence of pixels in row-major order, token = pixel + 1
// (0 is padding), vocabulary "pixels" of 257 ids, 10 classes.
//
// CIFAR-10 (the "binary version", cifar-10-batches-bin/): data_batch_1.bin .. data_batch_5.bin (train,
// 10000 records each) and test_batch.bin; a record is 3073 bytes: the label (0..9), then the 32x32
// red, green and blue planes (1024 bytes each, row-major). LRA feeds the grayscale image
// (lra_benchmarks/image/input_pipeline.py: tf.image.rgb_to_grayscale on uint8), 1024 tokens:
//
//   f_c  = float32(c) * float32(1/255)                      c in {R, G, B}, uint8 -> [0, 1]
//   y    = (f_R * 0.2989f + f_G * 0.5870f) + f_B * 0.1140f    float32, left to right, no fused
//                                                             multiply-add (tensordot in TF)
//   gray = (uint8) trunc(y * 255.5f)                          TF's convert_image_dtype float -> uint8
//
// so gray is floor((0.2989 R + 0.587 G + 0.114 B) * 255.5 / 255), not the rounded weighted sum (they
// differ on about a quarter of colours). A TF build whose tensordot fuses multiply-adds differs by 1
// on 31 of the 2^24 colours.
//
// Fashion-MNIST (IDX, big-endian): images: magic 0x00000803 (unsigned bytes, 3 dimensions), count,
// rows, cols, then count * rows * cols pixels; labels: magic 0x00000801, count, then count labels.
// Plain or gzip'ed (read through zlib; gzip is recognised by its magic bytes, not the file name). The
// Debian package dataset-fashion-mnist installs {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
// in kFashionMnistDir (60000 train, 10000 test images of 28x28 = 784 tokens).
//
// Every reader validates the whole input before returning and throws DataError ("file: reason"; a
// binary file has no lines, so the reason names the record or image and its byte offset). Sizes
// declared in a header are checked against the file size before anything is allocated for them.
#include <cstdint>
#include <string>
#include <vector>

#include "tasks/dataset.hpp"

namespace rmaat::tasks {

constexpr int32_t kCifarSide = 32;
constexpr int32_t kCifarPixels = kCifarSide * kCifarSide;    // tokens per image
constexpr int64_t kCifarRecordBytes = 1 + 3 * kCifarPixels;  // 3073
constexpr int32_t kCifarClasses = 10;
constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// "pixels": symbols[0] = "<pad>", symbols[v + 1] = decimal v for v = 0..255.
Vocabulary image_pixel_vocabulary();

// LRA's grayscale of one uint8 RGB pixel (the formula above).
uint8_t lra_grayscale(uint8_t r, uint8_t g, uint8_t b);

// One CIFAR-10 binary batch file -> task "image", 1024 tokens per example, 10 classes.
Dataset read_cifar10_batch(const std::string& file);

// Several batch files, in the given order, into one Dataset whose source is `source`.
Dataset read_cifar10_files(const std::vector<std::string>& files, const std::string& source);

// The split of a CIFAR-10 binary directory: "train" = data_batch_1..5.bin, "test" = test_batch.bin.
// InputError for another split name; DataError naming the missing file.
Dataset read_cifar10(const std::string& dir, const std::string& split);

// An IDX image file and its label file (plain or gzip) -> task "image", rows * cols tokens per
// example, labels in [0, n_classes).
Dataset read_idx(const std::string& images_file, const std::string& labels_file, int32_t n_classes = 10);

// The installed Fashion-MNIST split "train" (60000) or "test" (10000) from `dir`: the files
// <prefix>-images-idx3-ubyte[.gz] and <prefix>-labels-idx1-ubyte[.gz], prefix "train" or "t10k"
// (.gz preferred). InputError for another split name; DataError when the files are missing.
Dataset read_fashion_mnist(const std::string& split, const std::string& dir = kFashionMnistDir);

}  // namespace rmaat::tasks
