#pragma once
// 8-bit grayscale PNG files through libpng (docs/design.md section 6.3): the image format of LRA's
// Pathfinder release (PIL/scipy "L" images: one 8-bit sample per pixel, 0 = black, 255 = white).
//
//   write_png_gray("sample_0.png", pixels.data(), 32, 32);   // InputError if it cannot be written
//   std::vector<uint8_t> px = read_png_gray("sample_0.png", 32, 32);   // DataError "file: reason"
//
// The reader is strict: the header is checked (signature, IHDR, width x height, bit depth 8, colour
// type grayscale) before any pixel buffer is sized from it, and a damaged or truncated file is a
// DataError naming the file and libpng's reason. No transformation is applied (no gamma, no
// expansion): the samples are returned exactly as stored.
#include <cstdint>
#include <string>
#include <vector>

namespace rmaat::tasks {

// Writes `height` rows of `width` bytes (row-major) as an 8-bit grayscale, non-interlaced PNG.
void write_png_gray(const std::string& path, const uint8_t* pixels, int32_t width, int32_t height);

// Reads an 8-bit grayscale PNG that must be exactly width x height; returns the pixels row-major.
// DataError "<path>: <reason>" (+ `where`, e.g. " (listed at meta.npy:3)") for a missing or unreadable
// file, a file that is not a PNG, another size, bit depth or colour type, or a damaged/truncated file.
std::vector<uint8_t> read_png_gray(const std::string& path, int32_t width, int32_t height,
                                   const std::string& where = "");

}  // namespace rmaat::tasks
