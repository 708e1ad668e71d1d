#pragma once
// A POSIX file driver for HDF5 that writes each flush in an order a kill cannot break.
//
// HDF5 1.10 writes a flush's metadata in address order and the superblock last. Entries rewritten in
// place (a group's symbol table, a chunk B-tree node, an object header) lie at low addresses; the objects
// they newly point to (headers of new datasets, split B-tree nodes) lie in space allocated since the last
// flush, at high addresses. A process killed between the two leaves a parent pointing at a child that is
// not on disk ("bad object header version number"). This driver holds the writes of a flush in memory
// and then writes them as a kill-safe sequence (docs/design.md section 7.3):
//   1. writes into space allocated since the last flush, which nothing on disk points at yet;
//   2. rewrites of existing entries, in the order HDF5 issued them, each one system call (no metadata
//      accumulator), so every entry on disk is wholly old or wholly new;
//   3. the superblock;
//   4. the truncation to the end of allocated space.
// Before step 1 the superblock on disk already records the new end of allocated space
// (core/h5_superblock.hpp), so step 2's entries never point past it. Outside flushes (raw data written
// by H5Dwrite) writes go straight to the file.
//
// The driver takes no file locks: a run file is only ever written by the process that created it under
// its exclusive working name (core/output_file.hpp), and readers (h5py, rmaat inspect) may open it while
// it is written, seeing it as of its last flush. Files it writes are ordinary HDF5 files (sec2-compatible).
// HDF5 1.10 only: with another library version, run files use the default driver without this ordering.
#include <hdf5.h>

#include <cstdint>
#include <string>

namespace rmaat::h5 {

// Sets the driver of a file access property list; false (the default driver kept) where unavailable.
bool use_ordered_driver(hid_t fapl);

// Holds the writes of `file` in memory from here on (no-op for a file on another driver).
void hold_writes(hid_t file);

// Writes what was held in the order above and truncates as HDF5 asked; `stored_eoa` is the end of
// allocated space the superblock on disk recorded at the previous flush. WriteError naming `path`.
void write_held(hid_t file, std::uint64_t stored_eoa, const std::string& path);

}  // namespace rmaat::h5
