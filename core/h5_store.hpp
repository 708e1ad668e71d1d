#pragma once
// A small RAII layer over the HDF5 C API for run files.
//
// Files are written under a temporary name of their own, "<name>.partial.<pid>.<random>", created
// exclusively (never an existing file, never through a symlink; core/output_file.hpp), and renamed to
// their final name by commit(), so a crash or kill never leaves a corrupt file under the final name and
// two runs never write one file. Datasets carry a "units" attribute; growing records are chunked,
// extendible datasets written as they grow.
//
// Crash consistency (docs/design.md section 7.3): the metadata cache of a written file does not evict,
// so metadata reaches the disk only in File::flush() (H5Fflush, superblock last), never half-way
// between two flushes; raw rows written in between lie beyond what the flushed metadata describes, and
// space freed in between is never reused (file space strategy NONE: the file records no free space,
// which needs HDF5 >= 1.10 to read). A file killed between two flushes therefore reads as it was at its
// last flush. A kill inside a flush leaves a readable file too: the writes of a flush go out through
// rmaat's own file driver in an order no kill can break (core/h5_ordered_driver.hpp), after the superblock
// on disk learned where the newly allocated space ends (core/h5_superblock.hpp); chunks get their space
// when written, never inside a flush. Not covered: a kill inside the first flush that File::create() does at
// once, which leaves a working file that is not yet HDF5 (empty, holding nothing).
//
// Reading treats every file as hostile (section 7.3): attributes are read by their real type and shape
// or refused, datasets are checked for type, rank and size before anything is allocated. Errors name
// the file, the object and the reason: h5::Error (bad input, exit 2) when reading, WriteError (a failed
// run, exit 1) when writing, with the operating system's reason (full disk, file size limit).
#include <hdf5.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/output_file.hpp"

namespace rmaat::h5 {

// A file that cannot be opened or read as asked, or lacks what is needed: bad input (exit 2), with
// the file and the object named.
struct Error : InputError {
    using InputError::InputError;
};

// A write into a run file that failed (full disk, I/O error, file size limit): exit 1, with the file and
// the reason named.
using WriteError = rmaat::WriteError;

// The most values Group::read(name) reads from a file when the caller names no limit (1 GiB of doubles).
constexpr hsize_t kMaxReadElements = hsize_t(1) << 27;

// Owns one reference to a hid_t and releases it with the matching H5?close. Copies share the
// object through the library's reference count.
class Handle {
public:
    using Closer = herr_t (*)(hid_t);
    Handle() = default;
    Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
    Handle(const Handle& o) : id_(o.id_), closer_(o.closer_) {
        if (id_ >= 0) H5Iinc_ref(id_);
    }
    Handle& operator=(const Handle& o) {
        if (this != &o) {
            Handle copy(o);
            *this = std::move(copy);
        }
        return *this;
    }
    Handle(Handle&& o) noexcept : id_(o.id_), closer_(o.closer_) { o.id_ = -1; }
    Handle& operator=(Handle&& o) noexcept;
    ~Handle() { reset(); }
    void reset();
    // Gives up ownership without closing (the caller closes and checks the result).
    hid_t release() {
        const hid_t id = id_;
        id_ = -1;
        return id;
    }
    hid_t get() const { return id_; }
    bool valid() const { return id_ >= 0; }

private:
    hid_t id_ = -1;
    Closer closer_ = nullptr;
};

struct Array {
    std::vector<double> data;  // row-major
    std::vector<hsize_t> dims;
};

// A chunked dataset whose first dimension grows. Rows are buffered and written a chunk at a time;
// flush() writes what is buffered.
class AppendableDataset {
public:
    AppendableDataset() = default;
    AppendableDataset(hid_t parent, const std::string& name, const std::vector<hsize_t>& row_dims,
                      const std::string& units, hsize_t chunk_rows);
    AppendableDataset(AppendableDataset&&) noexcept = default;
    AppendableDataset& operator=(AppendableDataset&&) noexcept = default;
    ~AppendableDataset();
    void append(const double* row);
    void append(double value) { append(&value); }
    void flush();
    hsize_t rows() const { return rows_written_ + buffered_rows_; }

private:
    Handle dset_;
    std::string name_;  // for messages
    std::vector<hsize_t> row_dims_;
    hsize_t row_size_ = 1;
    hsize_t chunk_rows_ = 1;
    std::vector<double> buffer_;
    hsize_t buffered_rows_ = 0;
    hsize_t rows_written_ = 0;
};

// One object found by Group::list_objects().
struct ObjectInfo {
    enum Kind { group, dataset, other } kind = other;
    std::string path;              // relative to the group listed, e.g. "sim/network/t"
    std::vector<hsize_t> dims;     // datasets; empty for a scalar
    std::string units;             // the "units" attribute, if any
    std::optional<double> scalar;  // value of a numeric scalar dataset
    std::string problem;           // why a dataset could not be described ("" when fine)
};

class Group {
public:
    Group() = default;
    explicit Group(Handle h, std::string path) : h_(std::move(h)), path_(std::move(path)) {}
    hid_t id() const { return h_.get(); }
    const std::string& path() const { return path_; }

    // Opens or creates a subgroup (intermediate groups are created too).
    Group group(const std::string& name) const;
    Group open_group(const std::string& name) const;  // error if missing
    bool has(const std::string& name) const;

    void attr(const std::string& name, const std::string& value) const;
    void attr(const std::string& name, double value) const;
    void attr(const std::string& name, std::int64_t value) const;
    void attr(const std::string& name, const std::vector<double>& value) const;
    // One string (fixed or variable length, any padding, scalar or one element); h5::Error otherwise.
    std::string attr_string(const std::string& name) const;
    // One number (integer or floating point, scalar or one element); h5::Error otherwise.
    double attr_double(const std::string& name) const;
    // One integer; h5::Error for a float, a string, an array or a value beyond int64.
    std::int64_t attr_int(const std::string& name) const;
    bool has_attr(const std::string& name) const;

    // A whole dataset at once (compact data: tables, coordinates, spike times).
    void write(const std::string& name, const std::vector<double>& data, const std::vector<hsize_t>& dims,
               const std::string& units) const;
    void write(const std::string& name, const std::vector<std::int64_t>& data, const std::vector<hsize_t>& dims,
               const std::string& units) const;
    AppendableDataset appendable(const std::string& name, const std::vector<hsize_t>& row_dims,
                                 const std::string& units, hsize_t chunk_rows = 256) const;

    // A numeric dataset as doubles. h5::Error naming the file and dataset when it is missing, not
    // numeric, not of `rank` dimensions (rank < 0: any) or holds more than `max_elements` values (checked
    // before anything is allocated).
    Array read(const std::string& name, int rank, hsize_t max_elements) const;
    Array read(const std::string& name) const { return read(name, -1, kMaxReadElements); }
    // The value of a numeric dataset of one element (scalar or [1]).
    double read_scalar(const std::string& name) const;
    // Every object below this group in name order; h5::Error when the file cannot be walked to the end.
    std::vector<ObjectInfo> list_objects() const;
    std::string units(const std::string& dataset) const;
    // Attributes of a dataset of this group besides its units (conventions, descriptions).
    void dataset_attr(const std::string& dataset, const std::string& name, const std::string& value) const;
    void dataset_attr(const std::string& dataset, const std::string& name, double value) const;
    std::string dataset_attr_string(const std::string& dataset, const std::string& name) const;
    // The file this group lies in, as HDF5 opened it (the working name of a file being written).
    std::string file() const;

private:
    // "file.h5: /sim/network/name", for messages.
    std::string where(const std::string& name = "") const;
    // Opens a numeric dataset and reads its shape; h5::Error when it is missing or not numeric.
    Handle open_numeric(const std::string& name, std::vector<hsize_t>& dims) const;

    Handle h_;
    std::string path_;
};

class File {
public:
    // Creates a fresh "<path>.partial.<pid>.<random>" exclusively; commit() renames it to path, replacing
    // a file that appeared there meanwhile only with Replace::yes. Errors name the path and the reason.
    static File create(const std::string& path, Replace replace = Replace::no);
    static File open_read(const std::string& path);

    File(File&&) noexcept = default;
    File& operator=(File&&) noexcept = default;
    // Without commit() or discard(): the file is closed and stays under working_path().
    ~File();

    Group root() const;
    // Writes everything to the disk in an order that keeps the file readable; WriteError on failure.
    void flush() const;
    // Flushes, closes and renames to the final name (WriteError; InputError when the final name
    // appeared meanwhile and replacing is not allowed: the file then stays under working_path()).
    void commit();
    // Closes and deletes the unfinished file (outputs that must be all or nothing, failed writes).
    void discard();
    // Closes the file, keeping it under working_path() (an interrupted run).
    void close();
    const std::string& path() const { return final_path_; }
    const std::string& working_path() const { return work_path_; }

private:
    File() = default;
    Handle file_;
    std::string final_path_;
    std::string work_path_;
    FileId id_;  // of the working file as created
    Replace replace_ = Replace::no;
    bool writable_ = false;
};

// How many File::flush() calls in this process allocated file space inside H5Fflush, beyond the EOA raised
// on disk before it (each one a few milliseconds in which a kill could leave an unreadable file). Tests
// hold every writer to 0.
long flushes_past_stored_eoa();

// Turns off HDF5's own error printing (we throw instead). Called by File.
void silence_library_errors();

}  // namespace rmaat::h5
