#include "core/h5_store.hpp"
#include "core/h5_ordered_driver.hpp"
#include "core/h5_superblock.hpp"

#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>

namespace rmaat::h5 {

namespace {

// Why the last HDF5 call failed, from the library's error stack: the operating system's reason where
// a file driver reported one ("No space left on device"), otherwise the innermost description. Clears
// the stack.
std::string library_reason() {
    struct Walk {
        std::string os, innermost;
    } walk;
    H5Ewalk2(
        H5E_DEFAULT, H5E_WALK_DOWNWARD,
        [](unsigned, const H5E_error2_t* e, void* data) -> herr_t {
            auto* w = static_cast<Walk*>(data);
            const std::string desc = e->desc ? e->desc : "";
            if (!desc.empty()) w->innermost = desc;
            // The sec2 driver reports "..., errno = 28, error message = 'No space left on device', ...".
            const auto at = desc.find("error message = '");
            if (at != std::string::npos && w->os.empty()) {
                const auto from = at + std::strlen("error message = '");
                w->os = desc.substr(from, desc.find('\'', from) - from);
            }
            return 0;
        },
        &walk);
    H5Eclear2(H5E_DEFAULT);
    if (!walk.os.empty()) return walk.os;
    return walk.innermost.empty() ? "unknown HDF5 error" : walk.innermost;
}

// The name of the file an object lies in ("" when HDF5 cannot tell).
std::string file_name(hid_t obj) {
    const ssize_t n = H5Fget_name(obj, nullptr, 0);
    if (n <= 0) return "";
    std::string name(static_cast<size_t>(n) + 1, '\0');
    H5Fget_name(obj, name.data(), name.size());
    name.resize(static_cast<size_t>(n));
    return name;
}

// Library calls that fail only without memory (types, dataspaces, property lists).
hid_t check(hid_t id, const std::string& what) {
    if (id < 0) throw Error("HDF5: " + what + ": " + library_reason());
    return id;
}

void check_status(herr_t status, const std::string& what) {
    if (status < 0) throw Error("HDF5: " + what + ": " + library_reason());
}

// Reading: `what` names the file and the object ("run.h5: cannot open dataset /sim/x").
hid_t check_read(hid_t id, const std::string& what) {
    if (id < 0) throw Error(what + ": " + library_reason());
    return id;
}

// Writing: `what` names the file and the object; the reason says why (full disk, size limit).
hid_t check_write(hid_t id, const std::string& what) {
    if (id < 0) throw WriteError(what + ": " + library_reason());
    return id;
}

std::string dir_of(const std::string& path) {
    const auto slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

Handle make_space(const std::vector<hsize_t>& dims) {
    if (dims.empty()) return Handle(check(H5Screate(H5S_SCALAR), "create scalar dataspace"), H5Sclose);
    return Handle(check(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), "create dataspace"),
                  H5Sclose);
}

std::string join_path(const std::string& group, const std::string& name) {
    return group == "/" ? "/" + name : group + "/" + name;
}

void write_string_attr(hid_t obj, const std::string& name, const std::string& value, const std::string& where) {
    const std::string what = fmt::format("cannot write attribute '{}' of {} in '{}'", name, where, file_name(obj));
    if (H5Aexists(obj, name.c_str()) > 0) check_write(H5Adelete(obj, name.c_str()), what);
    Handle type(check(H5Tcopy(H5T_C_S1), "copy string type"), H5Tclose);
    H5Tset_size(type.get(), value.empty() ? 1 : value.size());
    H5Tset_strpad(type.get(), H5T_STR_NULLTERM);
    Handle space(check(H5Screate(H5S_SCALAR), "scalar space"), H5Sclose);
    Handle a(check_write(H5Acreate2(obj, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), what),
             H5Aclose);
    check_write(H5Awrite(a.get(), type.get(), value.empty() ? "" : value.c_str()), what);
}

// "a 2000-element 64-bit float", "a scalar string", for messages about what an attribute holds.
std::string describe(hid_t type, hssize_t npoints, int rank) {
    std::string kind;
    switch (H5Tget_class(type)) {
        case H5T_INTEGER: kind = "integer"; break;
        case H5T_FLOAT: kind = "floating-point number"; break;
        case H5T_STRING: kind = "string"; break;
        case H5T_ARRAY: kind = "array type"; break;
        case H5T_COMPOUND: kind = "compound type"; break;
        case H5T_ENUM: kind = "enum"; break;
        case H5T_VLEN: kind = "variable-length sequence"; break;
        case H5T_REFERENCE: kind = "reference"; break;
        default: kind = "value of another type"; break;
    }
    if (rank == 0) return "a scalar " + kind;
    return fmt::format("{} element{} of {}", npoints, npoints == 1 ? "" : "s", kind);
}

// An attribute opened for reading with its type and element count; h5::Error naming `where` when it is
// missing or cannot be opened.
struct OpenAttr {
    Handle attr, type;
    hssize_t npoints = 0;
    int rank = 0;
    H5T_class_t cls = H5T_NO_CLASS;
};

OpenAttr open_attr(hid_t obj, const std::string& name, const std::string& where) {
    const htri_t found = H5Aexists(obj, name.c_str());
    if (found == 0) throw Error(fmt::format("{} has no attribute '{}'", where, name));
    const std::string what = fmt::format("{}: cannot read attribute '{}'", where, name);
    check_read(found, what);
    OpenAttr a;
    a.attr = Handle(check_read(H5Aopen(obj, name.c_str(), H5P_DEFAULT), what), H5Aclose);
    a.type = Handle(check_read(H5Aget_type(a.attr.get()), what), H5Tclose);
    Handle space(check_read(H5Aget_space(a.attr.get()), what), H5Sclose);
    a.npoints = H5Sget_simple_extent_npoints(space.get());
    a.rank = H5Sget_simple_extent_ndims(space.get());
    if (a.npoints < 0 || a.rank < 0) throw Error(what + ": " + library_reason());
    if (H5Sget_simple_extent_type(space.get()) == H5S_NULL) a.npoints = 0, a.rank = 1;
    a.cls = H5Tget_class(a.type.get());
    return a;
}

// Longest fixed-length string attribute read (the stored config is a few kB).
constexpr size_t kMaxStringBytes = size_t(1) << 26;

// One string, read by its real type: variable length (h5py's default) or fixed length with any padding
// (NULLTERM, NULLPAD, SPACEPAD), in its own character set; `where` names the file and the object.
std::string read_string_attr(hid_t obj, const std::string& name, const std::string& where) {
    const OpenAttr a = open_attr(obj, name, where);
    if (a.cls != H5T_STRING || a.npoints != 1)
        throw Error(fmt::format("{}: attribute '{}' holds {}, expected one string", where, name,
                                describe(a.type.get(), a.npoints, a.rank)));
    const std::string what = fmt::format("{}: cannot read attribute '{}'", where, name);
    Handle mtype(check(H5Tcopy(H5T_C_S1), "copy string type"), H5Tclose);
    check_status(H5Tset_cset(mtype.get(), H5Tget_cset(a.type.get())), "string character set");
    if (H5Tis_variable_str(a.type.get()) > 0) {
        check_status(H5Tset_size(mtype.get(), H5T_VARIABLE), "variable string type");
        char* s = nullptr;
        check_read(H5Aread(a.attr.get(), mtype.get(), &s), what);
        std::string out = s ? s : "";
        H5free_memory(s);
        return out;
    }
    const size_t size = H5Tget_size(a.type.get());
    if (size == 0 || size > kMaxStringBytes)
        throw Error(fmt::format("{}: attribute '{}' is a string of {} bytes (at most {} are read)", where, name, size,
                                kMaxStringBytes));
    // The bytes as stored (same size and padding: no conversion), then the padding removed.
    const H5T_str_t pad = H5Tget_strpad(a.type.get());
    check_status(H5Tset_size(mtype.get(), size), "string size");
    check_status(H5Tset_strpad(mtype.get(), pad), "string padding");
    std::string out(size, '\0');
    check_read(H5Aread(a.attr.get(), mtype.get(), out.data()), what);
    if (pad == H5T_STR_SPACEPAD) {
        out.erase(out.find_last_not_of(' ') + 1);
    } else {
        out.resize(std::strlen(out.c_str()));  // NULLTERM, NULLPAD: up to the first NUL (or all bytes)
    }
    return out;
}

// One number (integer or floating point) as `mem_type`; `where` names the file and the object.
void read_number_attr(hid_t obj, const std::string& name, const std::string& where, hid_t mem_type, void* out) {
    const OpenAttr a = open_attr(obj, name, where);
    if ((a.cls != H5T_INTEGER && a.cls != H5T_FLOAT) || a.npoints != 1)
        throw Error(fmt::format("{}: attribute '{}' holds {}, expected one number", where, name,
                                describe(a.type.get(), a.npoints, a.rank)));
    check_read(H5Aread(a.attr.get(), mem_type, out), fmt::format("{}: cannot read attribute '{}'", where, name));
}

void set_units(hid_t obj, const std::string& units, const std::string& where) {
    write_string_attr(obj, "units", units, where);
}

}  // namespace

void silence_library_errors() {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

Handle& Handle::operator=(Handle&& o) noexcept {
    if (this != &o) {
        reset();
        id_ = o.id_;
        closer_ = o.closer_;
        o.id_ = -1;
    }
    return *this;
}

void Handle::reset() {
    if (id_ >= 0 && closer_) closer_(id_);
    id_ = -1;
}

// ---------------------------------------------------------------- AppendableDataset

AppendableDataset::AppendableDataset(hid_t parent, const std::string& name, const std::vector<hsize_t>& row_dims,
                                     const std::string& units, hsize_t chunk_rows)
    : name_(name), row_dims_(row_dims), chunk_rows_(chunk_rows < 1 ? 1 : chunk_rows) {
    for (auto d : row_dims_) row_size_ *= d;
    std::vector<hsize_t> dims{0}, maxdims{H5S_UNLIMITED}, chunk{chunk_rows_};
    for (auto d : row_dims_) dims.push_back(d), maxdims.push_back(d), chunk.push_back(d);
    // Keep chunks near 1 MB: wide rows get fewer rows per chunk.
    while (chunk[0] > 1 && chunk[0] * row_size_ * sizeof(double) > (1u << 20)) chunk[0] /= 2;
    chunk_rows_ = chunk[0];
    Handle space(check(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), maxdims.data()), "dataspace"),
                 H5Sclose);
    Handle plist(check(H5Pcreate(H5P_DATASET_CREATE), "plist"), H5Pclose);
    check_status(H5Pset_chunk(plist.get(), static_cast<int>(chunk.size()), chunk.data()), "set chunk");
    // No chunk cache: every chunk gets its file space when written, never inside File::flush(), where the
    // superblock's stored EOA has already been raised (core/h5_superblock.hpp).
    Handle access(check(H5Pcreate(H5P_DATASET_ACCESS), "plist"), H5Pclose);
    check_status(H5Pset_chunk_cache(access.get(), 0, 0, 1.0), "chunk cache");
    dset_ = Handle(check_write(H5Dcreate2(parent, name.c_str(), H5T_NATIVE_DOUBLE, space.get(), H5P_DEFAULT,
                                          plist.get(), access.get()),
                               fmt::format("cannot create dataset {} in '{}'", name, file_name(parent))),
                   H5Dclose);
    set_units(dset_.get(), units, name);
    buffer_.reserve(chunk_rows_ * row_size_);
}

AppendableDataset::~AppendableDataset() {
    try {
        if (dset_.valid()) flush();
    } catch (...) {
        // Destructors must not throw; the data that could not be written is lost with the error.
    }
}

void AppendableDataset::append(const double* row) {
    buffer_.insert(buffer_.end(), row, row + row_size_);
    if (++buffered_rows_ >= chunk_rows_) flush();
}

void AppendableDataset::flush() {
    if (buffered_rows_ == 0 || !dset_.valid()) return;
    const std::string what =
        fmt::format("cannot append {} rows to {} in '{}'", buffered_rows_, name_, file_name(dset_.get()));
    std::vector<hsize_t> new_dims{rows_written_ + buffered_rows_};
    for (auto d : row_dims_) new_dims.push_back(d);
    check_write(H5Dset_extent(dset_.get(), new_dims.data()), what);
    Handle fspace(check_write(H5Dget_space(dset_.get()), what), H5Sclose);
    std::vector<hsize_t> start(new_dims.size(), 0), count = new_dims;
    start[0] = rows_written_;
    count[0] = buffered_rows_;
    check_status(H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr),
                 "select");
    Handle mspace = make_space(count);
    // The rows stay in memory on failure (buffered_rows_ is kept): a later flush does not claim them.
    check_write(H5Dwrite(dset_.get(), H5T_NATIVE_DOUBLE, mspace.get(), fspace.get(), H5P_DEFAULT, buffer_.data()),
                what);
    rows_written_ += buffered_rows_;
    buffered_rows_ = 0;
    buffer_.clear();
    // No H5Dflush here: the dataset's metadata reaches the disk with the whole file's in File::flush(),
    // so the file on disk never describes rows whose chunks are not there (see the header).
}

// ---------------------------------------------------------------- Group

std::string Group::file() const {
    return file_name(h_.get());
}

std::string Group::where(const std::string& name) const {
    return fmt::format("{}: {}", file(), name.empty() ? path_ : join_path(path_, name));
}

Group Group::group(const std::string& name) const {
    const std::string full = join_path(path_, name);
    if (has(name)) return open_group(name);
    Handle lcpl(check(H5Pcreate(H5P_LINK_CREATE), "plist"), H5Pclose);
    H5Pset_create_intermediate_group(lcpl.get(), 1);
    return Group(Handle(check_write(H5Gcreate2(h_.get(), name.c_str(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT),
                                    fmt::format("cannot create group {} in '{}'", full, file())),
                        H5Gclose),
                 full);
}

Group Group::open_group(const std::string& name) const {
    const std::string full = join_path(path_, name);
    if (!has(name)) throw Error(fmt::format("{}: no group {}", file(), full));
    return Group(
        Handle(check_read(H5Gopen2(h_.get(), name.c_str(), H5P_DEFAULT), where(name) + ": cannot open as a group"),
               H5Gclose),
        full);
}

bool Group::has(const std::string& name) const {
    // Check each path component: H5Lexists fails on a missing intermediate link.
    std::stringstream ss(name);
    std::string part, sofar;
    while (std::getline(ss, part, '/')) {
        if (part.empty()) continue;
        sofar += (sofar.empty() ? "" : "/") + part;
        const htri_t found = H5Lexists(h_.get(), sofar.c_str(), H5P_DEFAULT);
        if (found == 0) return false;
        if (found < 0) check_read(found, where(sofar) + ": cannot look up (damaged file?)");
    }
    return true;
}

void Group::attr(const std::string& name, const std::string& value) const {
    write_string_attr(h_.get(), name, value, path_);
}

static void write_numeric_attr(hid_t obj, const std::string& name, hid_t type, const void* data,
                               const std::vector<hsize_t>& dims, const std::string& where) {
    const std::string what = fmt::format("cannot write attribute '{}' of {} in '{}'", name, where, file_name(obj));
    if (H5Aexists(obj, name.c_str()) > 0) check_write(H5Adelete(obj, name.c_str()), what);
    Handle space = make_space(dims);
    Handle a(check_write(H5Acreate2(obj, name.c_str(), type, space.get(), H5P_DEFAULT, H5P_DEFAULT), what), H5Aclose);
    check_write(H5Awrite(a.get(), type, data), what);
}

void Group::attr(const std::string& name, double value) const {
    write_numeric_attr(h_.get(), name, H5T_NATIVE_DOUBLE, &value, {}, path_);
}
void Group::attr(const std::string& name, std::int64_t value) const {
    write_numeric_attr(h_.get(), name, H5T_NATIVE_INT64, &value, {}, path_);
}
void Group::attr(const std::string& name, const std::vector<double>& value) const {
    write_numeric_attr(h_.get(), name, H5T_NATIVE_DOUBLE, value.data(), {value.size()}, path_);
}

bool Group::has_attr(const std::string& name) const {
    const htri_t found = H5Aexists(h_.get(), name.c_str());
    if (found < 0) check_read(found, fmt::format("{}: cannot look up attribute '{}'", where(), name));
    return found > 0;
}

std::string Group::attr_string(const std::string& name) const {
    return read_string_attr(h_.get(), name, where());
}

double Group::attr_double(const std::string& name) const {
    double v = 0;
    read_number_attr(h_.get(), name, where(), H5T_NATIVE_DOUBLE, &v);
    return v;
}

std::int64_t Group::attr_int(const std::string& name) const {
    const OpenAttr a = open_attr(h_.get(), name, where());
    if (a.cls != H5T_INTEGER || a.npoints != 1)
        throw Error(fmt::format("{}: attribute '{}' holds {}, expected one integer", where(), name,
                                describe(a.type.get(), a.npoints, a.rank)));
    const std::string what = fmt::format("{}: cannot read attribute '{}'", where(), name);
    if (H5Tget_sign(a.type.get()) == H5T_SGN_NONE) {
        std::uint64_t u = 0;
        check_read(H5Aread(a.attr.get(), H5T_NATIVE_UINT64, &u), what);
        if (u > static_cast<std::uint64_t>(INT64_MAX))
            throw Error(fmt::format("{}: attribute '{}' = {} is beyond the int64 range", where(), name, u));
        return static_cast<std::int64_t>(u);
    }
    std::int64_t v = 0;
    check_read(H5Aread(a.attr.get(), H5T_NATIVE_INT64, &v), what);
    return v;
}

void Group::write(const std::string& name, const std::vector<double>& data, const std::vector<hsize_t>& dims,
                  const std::string& units) const {
    const std::string what = fmt::format("cannot write dataset {} in '{}'", join_path(path_, name), file());
    Handle space = make_space(dims);
    Handle d(check_write(H5Dcreate2(h_.get(), name.c_str(), H5T_NATIVE_DOUBLE, space.get(), H5P_DEFAULT, H5P_DEFAULT,
                                    H5P_DEFAULT),
                         what),
             H5Dclose);
    if (!data.empty())
        check_write(H5Dwrite(d.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()), what);
    set_units(d.get(), units, join_path(path_, name));
}

void Group::write(const std::string& name, const std::vector<std::int64_t>& data, const std::vector<hsize_t>& dims,
                  const std::string& units) const {
    const std::string what = fmt::format("cannot write dataset {} in '{}'", join_path(path_, name), file());
    Handle space = make_space(dims);
    Handle d(check_write(H5Dcreate2(h_.get(), name.c_str(), H5T_NATIVE_INT64, space.get(), H5P_DEFAULT, H5P_DEFAULT,
                                    H5P_DEFAULT),
                         what),
             H5Dclose);
    if (!data.empty())
        check_write(H5Dwrite(d.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()), what);
    set_units(d.get(), units, join_path(path_, name));
}

AppendableDataset Group::appendable(const std::string& name, const std::vector<hsize_t>& row_dims,
                                    const std::string& units, hsize_t chunk_rows) const {
    return AppendableDataset(h_.get(), join_path(path_, name), row_dims, units, chunk_rows);
}

namespace {

std::string shape_text(const std::vector<hsize_t>& dims) {
    if (dims.empty()) return "scalar";
    std::string s;
    for (size_t i = 0; i < dims.size(); ++i) s += (i ? " x " : "") + std::to_string(dims[i]);
    return s;
}

}  // namespace

Handle Group::open_numeric(const std::string& name, std::vector<hsize_t>& dims) const {
    if (!has(name)) throw Error(fmt::format("{}: no dataset {}", file(), join_path(path_, name)));
    const std::string at = where(name);
    H5O_info_t info{};
    check_read(H5Oget_info_by_name(h_.get(), name.c_str(), &info, H5P_DEFAULT), at + ": cannot open");
    if (info.type != H5O_TYPE_DATASET) throw Error(at + " is not a dataset");
    Handle d(check_read(H5Dopen2(h_.get(), name.c_str(), H5P_DEFAULT), at + ": cannot open dataset"), H5Dclose);
    Handle type(check_read(H5Dget_type(d.get()), at + ": cannot read its type"), H5Tclose);
    Handle space(check_read(H5Dget_space(d.get()), at + ": cannot read its shape"), H5Sclose);
    const int r = H5Sget_simple_extent_ndims(space.get());
    if (r < 0 || r > H5S_MAX_RANK) throw Error(fmt::format("{}: bad rank {}", at, r));
    dims.assign(static_cast<size_t>(r), 0);
    if (r > 0) check_read(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr), at + ": cannot read its shape");
    const H5T_class_t cls = H5Tget_class(type.get());
    if (cls != H5T_INTEGER && cls != H5T_FLOAT)
        throw Error(fmt::format("{} holds {}, expected numbers", at,
                                describe(type.get(), H5Sget_simple_extent_npoints(space.get()), r)));
    return d;
}

Array Group::read(const std::string& name, int rank, hsize_t max_elements) const {
    Array out;
    Handle d = open_numeric(name, out.dims);
    const std::string at = where(name);
    const int r = static_cast<int>(out.dims.size());
    if (rank >= 0 && r != rank)
        throw Error(fmt::format("{} has shape [{}] ({} dimension{}), expected {} dimension{}", at, shape_text(out.dims),
                                r, r == 1 ? "" : "s", rank, rank == 1 ? "" : "s"));
    hsize_t n = 1;
    for (auto x : out.dims) {
        if (x != 0 && n > max_elements / x) {
            n = max_elements + 1;  // the product would overflow: certainly too many
            break;
        }
        n *= x;
    }
    if (n > max_elements)
        throw Error(fmt::format("{} declares shape [{}]: more than the {} values rmaat reads from it", at,
                                shape_text(out.dims), max_elements));
    out.data.resize(n);
    if (n > 0)
        check_read(H5Dread(d.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data.data()),
                   at + ": cannot read");
    return out;
}

double Group::read_scalar(const std::string& name) const {
    std::vector<hsize_t> dims;
    Handle d = open_numeric(name, dims);
    if (!(dims.empty() || (dims.size() == 1 && dims[0] == 1)))
        throw Error(fmt::format("{} has shape [{}], expected a single value", where(name), shape_text(dims)));
    double v = 0;
    check_read(H5Dread(d.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v), where(name) + ": cannot read");
    return v;
}

namespace {

struct VisitState {
    std::vector<ObjectInfo>* out;
    std::string error;
};

herr_t collect_object(hid_t loc, const char* name, const H5O_info_t* info, void* data) {
    auto* st = static_cast<VisitState*>(data);
    if (std::strcmp(name, ".") == 0) return 0;
    ObjectInfo o;
    o.path = name;
    if (info->type == H5O_TYPE_GROUP) {
        o.kind = ObjectInfo::group;
        st->out->push_back(o);
        return 0;
    }
    if (info->type != H5O_TYPE_DATASET) {
        o.kind = ObjectInfo::other;
        st->out->push_back(o);
        return 0;
    }
    o.kind = ObjectInfo::dataset;
    try {
        Handle d(check(H5Dopen2(loc, name, H5P_DEFAULT), std::string("open dataset ") + name), H5Dclose);
        Handle space(check(H5Dget_space(d.get()), "dataspace"), H5Sclose);
        const int rank = H5Sget_simple_extent_ndims(space.get());
        if (rank < 0 || rank > H5S_MAX_RANK) throw Error(fmt::format("HDF5: {}: bad rank {}", name, rank));
        o.dims.resize(rank);
        if (rank > 0) H5Sget_simple_extent_dims(space.get(), o.dims.data(), nullptr);
        if (H5Aexists(d.get(), "units") > 0) o.units = read_string_attr(d.get(), "units", name);
        Handle type(check(H5Dget_type(d.get()), "datatype"), H5Tclose);
        const H5T_class_t cls = H5Tget_class(type.get());
        if (rank == 0 && (cls == H5T_FLOAT || cls == H5T_INTEGER)) {
            double v = 0;
            if (H5Dread(d.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v) >= 0) o.scalar = v;
        }
    } catch (const Error& e) {
        o.problem = e.what();
    }
    st->out->push_back(o);
    return 0;
}

}  // namespace

std::vector<ObjectInfo> Group::list_objects() const {
    std::vector<ObjectInfo> out;
    VisitState st{&out, {}};
    if (H5Ovisit(h_.get(), H5_INDEX_NAME, H5_ITER_INC, collect_object, &st) < 0) {
        const std::string reason = library_reason();
        throw Error(
            fmt::format("{}: the file is damaged: could not visit every object below {} (listed {} before "
                        "the failure): {}",
                        file(), path_, out.size(), reason));
    }
    return out;
}

std::string Group::units(const std::string& dataset) const {
    return dataset_attr_string(dataset, "units");
}

void Group::dataset_attr(const std::string& dataset, const std::string& name, const std::string& value) const {
    Handle d(check_write(H5Dopen2(h_.get(), dataset.c_str(), H5P_DEFAULT),
                         fmt::format("cannot open dataset {} in '{}'", join_path(path_, dataset), file())),
             H5Dclose);
    Group(std::move(d), join_path(path_, dataset)).attr(name, value);  // attributes work alike on any object
}

void Group::dataset_attr(const std::string& dataset, const std::string& name, double value) const {
    Handle d(check_write(H5Dopen2(h_.get(), dataset.c_str(), H5P_DEFAULT),
                         fmt::format("cannot open dataset {} in '{}'", join_path(path_, dataset), file())),
             H5Dclose);
    Group(std::move(d), join_path(path_, dataset)).attr(name, value);
}

std::string Group::dataset_attr_string(const std::string& dataset, const std::string& name) const {
    if (!has(dataset)) throw Error(fmt::format("{}: no dataset {}", file(), join_path(path_, dataset)));
    Handle d(check_read(H5Dopen2(h_.get(), dataset.c_str(), H5P_DEFAULT), where(dataset) + ": cannot open dataset"),
             H5Dclose);
    return read_string_attr(d.get(), name, where(dataset));
}

// ---------------------------------------------------------------- File

namespace {

// The metadata cache of a file being written keeps every dirty entry until File::flush(): nothing is
// evicted (written) half-way, so what is on disk is always the file as of the last flush.
void keep_metadata_until_flush(hid_t file, const std::string& path) {
    H5AC_cache_config_t cfg{};
    cfg.version = H5AC__CURR_CACHE_CONFIG_VERSION;
    const std::string what = fmt::format("cannot configure the metadata cache of '{}'", path);
    check_write(H5Fget_mdc_config(file, &cfg), what);
    cfg.incr_mode = H5C_incr__off;
    cfg.flash_incr_mode = H5C_flash_incr__off;
    cfg.decr_mode = H5C_decr__off;
    cfg.evictions_enabled = false;
    check_write(H5Fset_mdc_config(file, &cfg), what);
}

int vfd_handle(hid_t file, const std::string& path) {
    int* fd = nullptr;
    check_write(H5Fget_vfd_handle(file, H5P_DEFAULT, reinterpret_cast<void**>(&fd)),
                fmt::format("cannot check '{}'", path));
    return *fd;
}

}  // namespace

File File::create(const std::string& path, Replace replace) {
    silence_library_errors();
    const std::string dir = dir_of(path);
    if (access(dir.c_str(), W_OK) != 0)
        throw Error(fmt::format("cannot write run file '{}': directory '{}' {}", path, dir,
                                errno == ENOENT ? "does not exist" : "is not writable"));
    File f;
    f.final_path_ = path;
    f.work_path_ = unique_partial_path(path);
    f.replace_ = replace;
    Handle fcpl(check(H5Pcreate(H5P_FILE_CREATE), "plist"), H5Pclose);
    // Space freed while writing is never reused before the next flush could record it: the metadata on
    // disk never points at bytes that were overwritten since (crash consistency, see the header).
    check_status(H5Pset_file_space_strategy(fcpl.get(), H5F_FSPACE_STRATEGY_NONE, 0, 1), "file space strategy");
    Handle fapl(check(H5Pcreate(H5P_FILE_ACCESS), "plist"), H5Pclose);
    // Closing the file closes every object still open in it, so commit() never renames a file that
    // a forgotten group handle keeps open.
    H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG);
    use_ordered_driver(fapl.get());  // a kill inside a flush leaves a readable file
    // H5F_ACC_EXCL: open(2) with O_CREAT | O_EXCL, which fails on any existing name, symlinks included.
    const hid_t id = H5Fcreate(f.work_path_.c_str(), H5F_ACC_EXCL, fcpl.get(), fapl.get());
    if (id < 0) throw WriteError(fmt::format("cannot create run file '{}': {}", f.work_path_, library_reason()));
    f.file_ = Handle(id, H5Fclose);
    f.writable_ = true;
    f.id_ = check_same_file(f.work_path_, vfd_handle(id, f.work_path_));
    keep_metadata_until_flush(id, f.work_path_);
    f.flush();  // a valid (empty) HDF5 file from the start
    return f;
}

File File::open_read(const std::string& path) {
    silence_library_errors();
    if (access(path.c_str(), R_OK) != 0) throw Error(fmt::format("cannot open '{}': {}", path, std::strerror(errno)));
    if (H5Fis_hdf5(path.c_str()) <= 0) throw Error(fmt::format("'{}' is not an HDF5 file", path));
    File f;
    f.final_path_ = f.work_path_ = path;
    hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    if (id < 0) throw Error(fmt::format("cannot open '{}' as HDF5 (damaged file?): {}", path, library_reason()));
    f.file_ = Handle(id, H5Fclose);
    return f;
}

File::~File() {
    // Neither committed nor discarded: close what is there; it stays under working_path() for inspection.
    file_.reset();
}

Group File::root() const {
    return Group(Handle(check(H5Gopen2(file_.get(), "/", H5P_DEFAULT), "open root group"), H5Gclose), "/");
}

namespace {
std::atomic<long> g_flushes_past_stored_eoa{0};
}

long flushes_past_stored_eoa() {
    return g_flushes_past_stored_eoa.load();
}

void File::flush() const {
    const std::string what = fmt::format("cannot write '{}'", work_path_);
    if (!writable_) {
        check_write(H5Fflush(file_.get(), H5F_SCOPE_GLOBAL), what);
        return;
    }
    // The superblock on disk first learns where the space ends that this flush's metadata points into;
    // then the flush's writes go out in the order core/h5_ordered_driver.hpp gives.
    const int fd = vfd_handle(file_.get(), work_path_);
    const std::uint64_t stored = stored_eoa(fd);
    haddr_t raised = 0;
    check_write(H5Fget_eoa(file_.get(), &raised), what);
    raise_stored_eoa(fd, raised, work_path_);
    hold_writes(file_.get());
    const herr_t flushed = H5Fflush(file_.get(), H5F_SCOPE_GLOBAL);
    write_held(file_.get(), stored, work_path_);
    check_write(flushed, what);
    haddr_t after = 0;
    if (H5Fget_eoa(file_.get(), &after) >= 0 && after > raised) ++g_flushes_past_stored_eoa;
}

namespace {

// Points the file descriptor HDF5 writes `file` through at an anonymous file in memory, and lifts the
// soft file size limit while `file` is closed: what the library still writes when closing a file that is
// being deleted then cannot fail on a full disk. (HDF5 1.10 keeps a file whose H5Fclose failed as a
// dangling identifier, and crashes on it when the library shuts down at exit.)
void close_into_memory(hid_t file) {
    int* fd = nullptr;
    if (H5Fget_vfd_handle(file, H5P_DEFAULT, reinterpret_cast<void**>(&fd)) >= 0 && fd) {
        const int mem = memfd_create("rmaat-discarded", MFD_CLOEXEC);
        if (mem >= 0) {
            dup2(mem, *fd);
            ::close(mem);
        }
    }
    rlimit saved{};
    const bool lift = getrlimit(RLIMIT_FSIZE, &saved) == 0 && saved.rlim_cur != saved.rlim_max;
    if (lift) {
        const rlimit raised{saved.rlim_max, saved.rlim_max};
        setrlimit(RLIMIT_FSIZE, &raised);
    }
    if (H5Fclose(file) < 0) library_reason();  // nothing more can be done: clear the error stack
    if (lift) setrlimit(RLIMIT_FSIZE, &saved);
}

}  // namespace

void File::discard() {
    if (!writable_) return;
    writable_ = false;
    struct stat st {};
    // Only the file this run created is removed (not one that replaced it under the same name).
    if (lstat(work_path_.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_dev == id_.dev && st.st_ino == id_.ino)
        std::remove(work_path_.c_str());
    close_into_memory(file_.release());
}

void File::close() {
    if (!writable_) return;
    flush();  // in the driver's order; what H5Fclose still writes is the superblock at most
    writable_ = false;
    const hid_t id = file_.release();
    if (H5Fclose(id) < 0) throw WriteError(fmt::format("cannot write '{}': {}", work_path_, library_reason()));
}

void File::commit() {
    if (!writable_) return;
    flush();
    const FileId now = check_same_file(work_path_, vfd_handle(file_.get(), work_path_));
    if (now.dev != id_.dev || now.ino != id_.ino)
        throw WriteError(fmt::format("'{}' is no longer the file this run created: not publishing it", work_path_));
    close();
    publish(work_path_, final_path_, replace_);
}

}  // namespace rmaat::h5
