#pragma once
// The end of allocated space (EOA) stored in a run file's superblock, raised ahead of each flush.
//
// H5Fflush writes the dirty metadata entries and the superblock, which records the EOA, last. Metadata
// written by a flush may point at space allocated since the previous one, beyond the EOA still on disk;
// a process killed between those writes leaves a file every reader refuses ("addr overflow"). Writing the
// new EOA into the superblock on disk first (the file extended to that size, then one pwrite of the
// address and the superblock's checksum) closes that window: the stored EOA always covers whatever the
// metadata on disk points at (docs/design.md section 7.3).
//
// Superblock layouts (HDF5 file format specification, section II.A), with 8-byte addresses and base 0:
//   versions 0 and 1: end-of-file address at byte 40 (version 0) or 44 (version 1); no checksum.
//   versions 2 and 3: end-of-file address at byte 28; Jenkins lookup3 checksum of bytes 0-43 at byte 44.
#include <cstddef>
#include <cstdint>
#include <string>

namespace rmaat::h5 {

// HDF5's metadata checksum (H5_checksum_lookup3 with initial value 0): Bob Jenkins' lookup3 hashlittle.
std::uint32_t lookup3_checksum(const unsigned char* data, std::size_t length);

// The EOA the superblock of the file open on fd records; nullopt-like 0 when fd holds no superblock yet.
std::uint64_t stored_eoa(int fd);

// Raises the EOA recorded in the superblock of the file open on fd to eoa (never lowers it), extending
// the file to eoa bytes first. A file without a superblock yet (before its first flush) is left alone.
// WriteError naming path on an I/O error or a superblock of another layout.
void raise_stored_eoa(int fd, std::uint64_t eoa, const std::string& path);

}  // namespace rmaat::h5
