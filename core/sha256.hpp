#pragma once
// SHA-256 (FIPS 180-4; test vectors of FIPS 180-2 appendix B) for the provenance of input files:
// a calibration records the digest of every run file it read (docs/design.md section 4), so that a
// result can be traced to the exact bytes it came from. No cryptographic library is needed.
//
//   Sha256 h;  h.update(bytes, n); ...;  std::string hex = h.hex_digest();   // 64 lowercase hex digits
//   sha256_hex("abc") == "ba7816bf...f20015ad";   sha256_file("run.h5");
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rmaat {

class Sha256 {
public:
    Sha256();
    void update(const void* data, std::size_t n);
    void update(std::string_view s) { update(s.data(), s.size()); }
    // Pads and returns the 32-byte digest; the object is then spent (construct a new one to hash again).
    std::array<std::uint8_t, 32> digest();
    std::string hex_digest();

private:
    void compress(const std::uint8_t* block);
    std::array<std::uint32_t, 8> h_;
    std::array<std::uint8_t, 64> buf_{};
    std::size_t buf_len_ = 0;
    std::uint64_t total_bytes_ = 0;
};

std::string sha256_hex(std::string_view data);
// Digest of a file's bytes, read in blocks. InputError naming the path when it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace rmaat
