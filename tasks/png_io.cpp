#include "tasks/png_io.hpp"

#include <png.h>

#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "core/error.hpp"
#include "tasks/dataset.hpp"

namespace rmaat::tasks {

namespace {

// libpng reports errors through a callback that must not return: it records the message and jumps
// back to decode_gray8. That function holds no object with a destructor, so the jump is safe.
struct PngFailure {
    char message[256];
    std::jmp_buf jump;
};

[[noreturn]] void on_png_error(png_structp png, png_const_charp message) {
    auto* failure = static_cast<PngFailure*>(png_get_error_ptr(png));
    std::snprintf(failure->message, sizeof failure->message,
                  "damaged or truncated PNG (libpng: %s): regenerate or re-download it", message);
    std::longjmp(failure->jump, 1);
}

void on_png_warning(png_structp, png_const_charp) {}

const char* colour_type_name(int type) {
    switch (type) {
        case PNG_COLOR_TYPE_GRAY: return "grayscale";
        case PNG_COLOR_TYPE_RGB: return "RGB";
        case PNG_COLOR_TYPE_PALETTE: return "palette";
        case PNG_COLOR_TYPE_GRAY_ALPHA: return "grayscale + alpha";
        case PNG_COLOR_TYPE_RGB_ALPHA: return "RGBA";
        default: return "unknown";
    }
}

// Decodes an open PNG (signature already consumed) into `rows` (height pointers of width bytes).
// Returns false with `failure->message` set: a libpng error, or a header that is not width x height
// 8-bit grayscale (checked right after the header chunks, before a single row is read; the caller's
// buffer is sized from the expected size, never from the file).
bool decode_gray8(std::FILE* file, png_bytepp rows, png_uint_32 width, png_uint_32 height, PngFailure* failure) {
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, failure, on_png_error, on_png_warning);
    if (!png) {
        std::snprintf(failure->message, sizeof failure->message, "libpng could not start (out of memory)");
        return false;
    }
    png_infop info = png_create_info_struct(png);
    if (!info || setjmp(failure->jump)) {
        png_destroy_read_struct(&png, info ? &info : nullptr, nullptr);
        return false;
    }
    png_init_io(png, file);
    png_set_sig_bytes(png, 8);
    png_read_info(png, info);
    const png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    const int depth = png_get_bit_depth(png, info), type = png_get_color_type(png, info);
    if (w != width || h != height || depth != 8 || type != PNG_COLOR_TYPE_GRAY) {
        if (w != width || h != height)
            std::snprintf(failure->message, sizeof failure->message,
                          "image is %ux%u: expected %ux%u (the data set's image size)", static_cast<unsigned>(w),
                          static_cast<unsigned>(h), static_cast<unsigned>(width), static_cast<unsigned>(height));
        else
            std::snprintf(failure->message, sizeof failure->message,
                          "bit depth %d, colour type %s: expected 8-bit grayscale (re-save it so, e.g. PIL mode 'L')",
                          depth, colour_type_name(type));
        png_destroy_read_struct(&png, &info, nullptr);
        return false;
    }
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    png_read_image(png, rows);
    png_read_end(png, nullptr);  // checks the rest of the file (CRCs, IEND)
    png_destroy_read_struct(&png, &info, nullptr);
    return true;
}

struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
};

}  // namespace

void write_png_gray(const std::string& path, const uint8_t* pixels, int32_t width, int32_t height) {
    if (width < 1 || height < 1) throw InputError(fmt::format("{}: cannot write a {}x{} image", path, width, height));
    png_image image;
    std::memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = static_cast<png_uint_32>(width);
    image.height = static_cast<png_uint_32>(height);
    image.format = PNG_FORMAT_GRAY;
    if (!png_image_write_to_file(&image, path.c_str(), 0, pixels, width, nullptr)) {
        const std::string reason = image.message;
        png_image_free(&image);
        throw InputError(fmt::format("{}: cannot write the PNG: {} (check that the directory exists and is writable)",
                                     path, reason));
    }
}

std::vector<uint8_t> read_png_gray(const std::string& path, int32_t width, int32_t height, const std::string& where) {
    auto fail = [&](const std::string& reason) { data_error(path, 0, reason + where); };
    std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
    if (!file) fail(fmt::format("cannot open: {}", std::strerror(errno)));
    png_byte signature[8];
    if (std::fread(signature, 1, 8, file.get()) != 8 || png_sig_cmp(signature, 0, 8) != 0)
        fail("not a PNG file (no PNG signature)");
    std::vector<uint8_t> pixels(static_cast<size_t>(width) * static_cast<size_t>(height));
    std::vector<png_bytep> rows(static_cast<size_t>(height));
    for (int32_t r = 0; r < height; ++r) rows[r] = pixels.data() + static_cast<size_t>(r) * width;
    PngFailure failure{};
    if (!decode_gray8(file.get(), rows.data(), static_cast<png_uint_32>(width), static_cast<png_uint_32>(height),
                      &failure))
        fail(failure.message);
    return pixels;
}

}  // namespace rmaat::tasks
