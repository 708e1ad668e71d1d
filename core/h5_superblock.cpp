// Raising the superblock's stored EOA ahead of a flush; see the header.
#include "core/h5_superblock.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "core/output_file.hpp"

namespace rmaat::h5 {

namespace {

constexpr unsigned char kSignature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
constexpr std::size_t kHeaderBytes = 48;  // enough for every superblock version's EOA field

std::uint32_t rot(std::uint32_t x, int k) {
    return (x << k) | (x >> (32 - k));
}

std::uint64_t load_le64(const unsigned char* p) {
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

void store_le(unsigned char* p, std::uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i, v >>= 8) p[i] = static_cast<unsigned char>(v & 0xff);
}

// Where a superblock keeps its EOA, and whether a checksum covers it.
struct Layout {
    std::size_t eoa_at = 0;  // 0: not a layout handled here
    bool checksummed = false;
};

Layout layout_of(const unsigned char* sb) {
    const unsigned version = sb[8];
    if (version <= 1) {
        // Sizes of offsets and lengths at bytes 13 and 14; base address right after the fixed fields.
        const std::size_t base_at = version == 0 ? 24 : 28;
        if (sb[13] != 8 || sb[14] != 8 || load_le64(sb + base_at) != 0) return {};
        return {base_at + 16, false};
    }
    if (version <= 3) {
        if (sb[9] != 8 || sb[10] != 8 || load_le64(sb + 12) != 0) return {};
        return {28, true};
    }
    return {};
}

bool read_header(int fd, unsigned char* sb) {
    const ssize_t n = pread(fd, sb, kHeaderBytes, 0);
    return n == static_cast<ssize_t>(kHeaderBytes) && std::memcmp(sb, kSignature, sizeof kSignature) == 0;
}

}  // namespace

std::uint32_t lookup3_checksum(const unsigned char* k, std::size_t length) {
    std::uint32_t a, b, c;
    a = b = c = 0xdeadbeefu + static_cast<std::uint32_t>(length);
    auto mix = [&] {
        a -= c, a ^= rot(c, 4), c += b;
        b -= a, b ^= rot(a, 6), a += c;
        c -= b, c ^= rot(b, 8), b += a;
        a -= c, a ^= rot(c, 16), c += b;
        b -= a, b ^= rot(a, 19), a += c;
        c -= b, c ^= rot(b, 4), b += a;
    };
    auto word = [&](std::size_t at, std::size_t n) {  // little-endian, n <= 4 bytes
        std::uint32_t w = 0;
        for (std::size_t i = 0; i < n; ++i) w |= static_cast<std::uint32_t>(k[at + i]) << (8 * i);
        return w;
    };
    while (length > 12) {
        a += word(0, 4), b += word(4, 4), c += word(8, 4);
        mix();
        length -= 12, k += 12;
    }
    if (length == 0) return c;
    a += word(0, length < 4 ? length : 4);
    if (length > 4) b += word(4, length < 8 ? length - 4 : 4);
    if (length > 8) c += word(8, length - 8);
    c ^= b, c -= rot(b, 14);
    a ^= c, a -= rot(c, 11);
    b ^= a, b -= rot(a, 25);
    c ^= b, c -= rot(b, 16);
    a ^= c, a -= rot(c, 4);
    b ^= a, b -= rot(a, 14);
    c ^= b, c -= rot(b, 24);
    return c;
}

std::uint64_t stored_eoa(int fd) {
    std::array<unsigned char, kHeaderBytes> sb{};
    if (!read_header(fd, sb.data())) return 0;
    const Layout l = layout_of(sb.data());
    return l.eoa_at ? load_le64(sb.data() + l.eoa_at) : 0;
}

void raise_stored_eoa(int fd, std::uint64_t eoa, const std::string& path) {
    std::array<unsigned char, kHeaderBytes> sb{};
    if (!read_header(fd, sb.data())) return;  // the first flush writes the superblock
    const Layout l = layout_of(sb.data());
    if (!l.eoa_at)
        throw WriteError(
            fmt::format("cannot keep '{}' readable after a crash: superblock version {} with "
                        "{}-byte addresses is not one rmaat writes",
                        path, sb[8], sb[8] <= 1 ? sb[13] : sb[9]));
    if (load_le64(sb.data() + l.eoa_at) >= eoa) return;
    // The file must reach the stored EOA, or readers call it truncated; the gap stays sparse.
    struct stat st {};
    if (fstat(fd, &st) != 0 ||
        (static_cast<std::uint64_t>(st.st_size) < eoa && ftruncate(fd, static_cast<off_t>(eoa)) != 0))
        throw WriteError(fmt::format("cannot write '{}': {}", path, std::strerror(errno)));
    // One write covers the address and the checksum, so a kill never leaves one without the other.
    store_le(sb.data() + l.eoa_at, eoa, 8);
    std::size_t end = l.eoa_at + 8;
    if (l.checksummed) {
        store_le(sb.data() + 44, lookup3_checksum(sb.data(), 44), 4);
        end = 48;
    }
    const std::size_t n = end - l.eoa_at;
    if (pwrite(fd, sb.data() + l.eoa_at, n, static_cast<off_t>(l.eoa_at)) != static_cast<ssize_t>(n))
        throw WriteError(fmt::format("cannot write '{}': {}", path, std::strerror(errno ? errno : EIO)));
}

}  // namespace rmaat::h5
