#pragma once
// A small RAII layer over the HDF5 C API for run files.
//
// Files are written under "<name>.partial" and renamed to their final name by commit(), so a crash or
// kill never leaves a corrupt file under the final name. Datasets carry a "units" attribute; growing
// records are chunked, extendible datasets that are written and flushed as they grow.
#include <hdf5.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace rmaat::h5 {

// A file that cannot be opened, read or written as asked: bad input (exit 2), with the path named.
struct Error : InputError {
    using InputError::InputError;
};

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
    std::string path;             // relative to the group listed, e.g. "sim/network/t"
    std::vector<hsize_t> dims;    // datasets; empty for a scalar
    std::string units;            // the "units" attribute, if any
    std::optional<double> scalar;  // value of a numeric scalar dataset
    std::string problem;          // why a dataset could not be described ("" when fine)
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
    std::string attr_string(const std::string& name) const;
    double attr_double(const std::string& name) const;
    bool has_attr(const std::string& name) const;

    // A whole dataset at once (compact data: tables, coordinates, spike times).
    void write(const std::string& name, const std::vector<double>& data, const std::vector<hsize_t>& dims,
               const std::string& units) const;
    void write(const std::string& name, const std::vector<std::int64_t>& data, const std::vector<hsize_t>& dims,
               const std::string& units) const;
    AppendableDataset appendable(const std::string& name, const std::vector<hsize_t>& row_dims,
                                 const std::string& units, hsize_t chunk_rows = 256) const;

    Array read(const std::string& name) const;
    // Every object below this group in name order; h5::Error when the file cannot be walked to the end.
    std::vector<ObjectInfo> list_objects() const;
    std::string units(const std::string& dataset) const;
    // Attributes of a dataset of this group besides its units (conventions, descriptions).
    void dataset_attr(const std::string& dataset, const std::string& name, const std::string& value) const;
    void dataset_attr(const std::string& dataset, const std::string& name, double value) const;
    std::string dataset_attr_string(const std::string& dataset, const std::string& name) const;

private:
    Handle h_;
    std::string path_;
};

class File {
public:
    // Creates "<path>.partial"; commit() renames it to path. Errors name the path and the reason.
    static File create(const std::string& path);
    static File open_read(const std::string& path);

    File(File&&) noexcept = default;
    File& operator=(File&&) noexcept = default;
    // Without commit(): the file is closed and stays as "<path>.partial".
    ~File();

    Group root() const;
    void flush() const;
    // Flushes, closes and atomically renames to the final name.
    void commit();
    // Closes and deletes the unfinished file (for outputs that must be all or nothing).
    void discard();
    const std::string& path() const { return final_path_; }
    const std::string& working_path() const { return work_path_; }

private:
    File() = default;
    Handle file_;
    std::string final_path_;
    std::string work_path_;
    bool writable_ = false;
};

// Turns off HDF5's own error printing (we throw instead). Called by File.
void silence_library_errors();

}  // namespace rmaat::h5
