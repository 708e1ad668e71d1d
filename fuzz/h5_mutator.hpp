#pragma once
// A structure-aware libFuzzer mutator for HDF5 files (fuzz_run_file, fuzz_calibration_file; docs/design.md
// section 9). Byte flips in an HDF5 file mostly break its checksums and B-trees, so the readers behind
// the library would rarely see a well-formed file with hostile content. The mutations therefore rewrite
// the input through the HDF5 library into a fresh file (every object it can read, with its
// attributes) with one edit, as a hostile or broken writer would:
//   - set one element of a numeric dataset to an edge value (0, -1, NaN, inf, 1e300, 2^31, 2^53, ...);
//   - give a dataset another shape (rank 0 to 3; a length of 0, 1, n - 1, n + 1, 2n, a random one, or
//     2^31 or 2^32 elements claimed but never written);
//   - delete a dataset or a group, or move it to another name;
//   - mutate an attribute: a string's bytes (e.g. the stored TOML config), a number to an edge value.
// Only these edits by default: every mutant is a well-formed file, so what crashes is rmaat's reading, not
// libhdf5's parsing of a damaged file (HDF5 1.10 has such crashes: fuzz/hdf5_upstream/README.md). With
// RMAAT_FUZZ_BYTES set, half of the mutations are libFuzzer's byte-level ones (for exploring the library).
#include <cstddef>
#include <cstdint>

namespace rmaat::fuzz {

// LLVMFuzzerCustomMutator's contract: mutates data[0, size) in place into at most max_size bytes and
// returns the new size.
std::size_t mutate_hdf5(std::uint8_t* data, std::size_t size, std::size_t max_size, unsigned int seed);

}  // namespace rmaat::fuzz
