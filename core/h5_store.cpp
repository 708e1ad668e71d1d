#include "core/h5_store.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>

namespace rmaat::h5 {

namespace {

hid_t check(hid_t id, const std::string& what) {
    if (id < 0) throw Error("HDF5: " + what);
    return id;
}

void check_status(herr_t status, const std::string& what) {
    if (status < 0) throw Error("HDF5: " + what);
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

void set_units(hid_t obj, const std::string& units) {
    Handle type(check(H5Tcopy(H5T_C_S1), "copy string type"), H5Tclose);
    H5Tset_size(type.get(), units.empty() ? 1 : units.size());
    H5Tset_strpad(type.get(), H5T_STR_NULLTERM);
    Handle space(check(H5Screate(H5S_SCALAR), "scalar space"), H5Sclose);
    Handle a(check(H5Acreate2(obj, "units", type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), "create units"),
             H5Aclose);
    check_status(H5Awrite(a.get(), type.get(), units.empty() ? "" : units.c_str()), "write units");
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
    : row_dims_(row_dims), chunk_rows_(chunk_rows < 1 ? 1 : chunk_rows) {
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
    dset_ = Handle(
        check(H5Dcreate2(parent, name.c_str(), H5T_NATIVE_DOUBLE, space.get(), H5P_DEFAULT, plist.get(), H5P_DEFAULT),
              "create dataset " + name),
        H5Dclose);
    set_units(dset_.get(), units);
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
    std::vector<hsize_t> new_dims{rows_written_ + buffered_rows_};
    for (auto d : row_dims_) new_dims.push_back(d);
    check_status(H5Dset_extent(dset_.get(), new_dims.data()), "extend dataset");
    Handle fspace(check(H5Dget_space(dset_.get()), "get space"), H5Sclose);
    std::vector<hsize_t> start(new_dims.size(), 0), count = new_dims;
    start[0] = rows_written_;
    count[0] = buffered_rows_;
    check_status(H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr),
                 "select");
    Handle mspace = make_space(count);
    check_status(H5Dwrite(dset_.get(), H5T_NATIVE_DOUBLE, mspace.get(), fspace.get(), H5P_DEFAULT, buffer_.data()),
                 "append rows");
    rows_written_ += buffered_rows_;
    buffered_rows_ = 0;
    buffer_.clear();
    check_status(H5Dflush(dset_.get()), "flush dataset");
}

// ---------------------------------------------------------------- Group

Group Group::group(const std::string& name) const {
    const std::string full = path_ == "/" ? "/" + name : path_ + "/" + name;
    if (has(name)) return open_group(name);
    Handle lcpl(check(H5Pcreate(H5P_LINK_CREATE), "plist"), H5Pclose);
    H5Pset_create_intermediate_group(lcpl.get(), 1);
    return Group(
        Handle(check(H5Gcreate2(h_.get(), name.c_str(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT), "create group " + full),
               H5Gclose),
        full);
}

Group Group::open_group(const std::string& name) const {
    const std::string full = path_ == "/" ? "/" + name : path_ + "/" + name;
    if (!has(name)) throw Error("HDF5: no group " + full);
    return Group(Handle(check(H5Gopen2(h_.get(), name.c_str(), H5P_DEFAULT), "open group " + full), H5Gclose), full);
}

bool Group::has(const std::string& name) const {
    // Check each path component: H5Lexists fails on a missing intermediate link.
    std::stringstream ss(name);
    std::string part, sofar;
    while (std::getline(ss, part, '/')) {
        if (part.empty()) continue;
        sofar += (sofar.empty() ? "" : "/") + part;
        if (H5Lexists(h_.get(), sofar.c_str(), H5P_DEFAULT) <= 0) return false;
    }
    return true;
}

void Group::attr(const std::string& name, const std::string& value) const {
    if (H5Aexists(h_.get(), name.c_str()) > 0) H5Adelete(h_.get(), name.c_str());
    Handle type(check(H5Tcopy(H5T_C_S1), "copy string type"), H5Tclose);
    H5Tset_size(type.get(), value.empty() ? 1 : value.size());
    H5Tset_strpad(type.get(), H5T_STR_NULLTERM);
    Handle space(check(H5Screate(H5S_SCALAR), "scalar space"), H5Sclose);
    Handle a(check(H5Acreate2(h_.get(), name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
                   "create attribute " + name + " on " + path_),
             H5Aclose);
    check_status(H5Awrite(a.get(), type.get(), value.empty() ? "" : value.c_str()), "write attribute " + name);
}

static void write_numeric_attr(hid_t obj, const std::string& name, hid_t type, const void* data,
                               const std::vector<hsize_t>& dims, const std::string& where) {
    if (H5Aexists(obj, name.c_str()) > 0) H5Adelete(obj, name.c_str());
    Handle space = make_space(dims);
    Handle a(check(H5Acreate2(obj, name.c_str(), type, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                   "create attribute " + name + " on " + where),
             H5Aclose);
    check_status(H5Awrite(a.get(), type, data), "write attribute " + name);
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
    return H5Aexists(h_.get(), name.c_str()) > 0;
}

static std::string read_string_attr(hid_t obj, const std::string& name, const std::string& where) {
    if (H5Aexists(obj, name.c_str()) <= 0) throw Error(fmt::format("HDF5: {} has no attribute '{}'", where, name));
    Handle a(check(H5Aopen(obj, name.c_str(), H5P_DEFAULT), "open attribute " + name), H5Aclose);
    Handle ftype(check(H5Aget_type(a.get()), "attribute type"), H5Tclose);
    if (H5Tget_class(ftype.get()) != H5T_STRING)
        throw Error(fmt::format("HDF5: attribute '{}' of {} is not a string", name, where));
    // One string only: HDF5 writes every element, so a buffer sized for one must not meet an array.
    Handle space(check(H5Aget_space(a.get()), "attribute space"), H5Sclose);
    if (H5Sget_simple_extent_npoints(space.get()) != 1)
        throw Error(fmt::format("HDF5: attribute '{}' of {} holds {} strings, expected one", name, where,
                                H5Sget_simple_extent_npoints(space.get())));
    if (H5Tis_variable_str(ftype.get()) > 0) {
        Handle mtype(check(H5Tcopy(H5T_C_S1), "copy"), H5Tclose);
        H5Tset_size(mtype.get(), H5T_VARIABLE);
        char* s = nullptr;
        check_status(H5Aread(a.get(), mtype.get(), &s), "read attribute " + name);
        std::string out = s ? s : "";
        H5free_memory(s);
        return out;
    }
    const size_t size = H5Tget_size(ftype.get());
    std::string out(size + 1, '\0');  // room for the terminator of a NULLPAD or SPACEPAD string
    Handle mtype(check(H5Tcopy(H5T_C_S1), "copy"), H5Tclose);
    H5Tset_size(mtype.get(), size + 1);
    H5Tset_strpad(mtype.get(), H5T_STR_NULLTERM);
    check_status(H5Aread(a.get(), mtype.get(), out.data()), "read attribute " + name);
    out.resize(std::strlen(out.c_str()));
    return out;
}

std::string Group::attr_string(const std::string& name) const {
    return read_string_attr(h_.get(), name, path_);
}

double Group::attr_double(const std::string& name) const {
    if (!has_attr(name)) throw Error(fmt::format("HDF5: {} has no attribute '{}'", path_, name));
    Handle a(check(H5Aopen(h_.get(), name.c_str(), H5P_DEFAULT), "open attribute " + name), H5Aclose);
    double v = 0;
    check_status(H5Aread(a.get(), H5T_NATIVE_DOUBLE, &v), "read attribute " + name);
    return v;
}

void Group::write(const std::string& name, const std::vector<double>& data, const std::vector<hsize_t>& dims,
                  const std::string& units) const {
    Handle space = make_space(dims);
    Handle d(
        check(H5Dcreate2(h_.get(), name.c_str(), H5T_NATIVE_DOUBLE, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
              "create dataset " + path_ + "/" + name),
        H5Dclose);
    if (!data.empty())
        check_status(H5Dwrite(d.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()), "write " + name);
    set_units(d.get(), units);
}

void Group::write(const std::string& name, const std::vector<std::int64_t>& data, const std::vector<hsize_t>& dims,
                  const std::string& units) const {
    Handle space = make_space(dims);
    Handle d(
        check(H5Dcreate2(h_.get(), name.c_str(), H5T_NATIVE_INT64, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
              "create dataset " + path_ + "/" + name),
        H5Dclose);
    if (!data.empty())
        check_status(H5Dwrite(d.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()), "write " + name);
    set_units(d.get(), units);
}

AppendableDataset Group::appendable(const std::string& name, const std::vector<hsize_t>& row_dims,
                                    const std::string& units, hsize_t chunk_rows) const {
    return AppendableDataset(h_.get(), name, row_dims, units, chunk_rows);
}

Array Group::read(const std::string& name) const {
    if (!has(name)) throw Error(fmt::format("HDF5: no dataset {}{}{}", path_, path_ == "/" ? "" : "/", name));
    Handle d(check(H5Dopen2(h_.get(), name.c_str(), H5P_DEFAULT), "open dataset " + name), H5Dclose);
    Handle space(check(H5Dget_space(d.get()), "space"), H5Sclose);
    const int rank = H5Sget_simple_extent_ndims(space.get());
    Array out;
    out.dims.resize(rank);
    if (rank > 0) H5Sget_simple_extent_dims(space.get(), out.dims.data(), nullptr);
    hsize_t n = 1;
    for (auto x : out.dims) n *= x;
    out.data.resize(n);
    if (n > 0)
        check_status(H5Dread(d.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data.data()),
                     "read " + path_ + "/" + name);
    return out;
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
    if (H5Ovisit(h_.get(), H5_INDEX_NAME, H5_ITER_INC, collect_object, &st) < 0)
        throw Error(fmt::format("HDF5: {}: the file is damaged: could not visit every object (listed {} before the "
                                "failure)",
                                path_, out.size()));
    return out;
}

std::string Group::units(const std::string& dataset) const {
    Handle d(check(H5Dopen2(h_.get(), dataset.c_str(), H5P_DEFAULT), "open dataset " + dataset), H5Dclose);
    return read_string_attr(d.get(), "units", path_ + "/" + dataset);
}

void Group::dataset_attr(const std::string& dataset, const std::string& name, const std::string& value) const {
    Handle d(check(H5Dopen2(h_.get(), dataset.c_str(), H5P_DEFAULT), "open dataset " + dataset), H5Dclose);
    Group(std::move(d), path_ + "/" + dataset).attr(name, value);  // attributes work alike on any object
}

void Group::dataset_attr(const std::string& dataset, const std::string& name, double value) const {
    Handle d(check(H5Dopen2(h_.get(), dataset.c_str(), H5P_DEFAULT), "open dataset " + dataset), H5Dclose);
    Group(std::move(d), path_ + "/" + dataset).attr(name, value);
}

std::string Group::dataset_attr_string(const std::string& dataset, const std::string& name) const {
    Handle d(check(H5Dopen2(h_.get(), dataset.c_str(), H5P_DEFAULT), "open dataset " + dataset), H5Dclose);
    return read_string_attr(d.get(), name, path_ + "/" + dataset);
}

// ---------------------------------------------------------------- File

File File::create(const std::string& path) {
    silence_library_errors();
    const std::string dir = dir_of(path);
    if (access(dir.c_str(), W_OK) != 0)
        throw Error(fmt::format("cannot write run file '{}': directory '{}' {}", path, dir,
                                errno == ENOENT ? "does not exist" : "is not writable"));
    File f;
    f.final_path_ = path;
    f.work_path_ = path + ".partial";
    f.writable_ = true;
    Handle fapl(check(H5Pcreate(H5P_FILE_ACCESS), "plist"), H5Pclose);
    // Closing the file closes every object still open in it, so commit() never renames a file that
    // a forgotten group handle keeps open.
    H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG);
    hid_t id = H5Fcreate(f.work_path_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get());
    if (id < 0) throw Error(fmt::format("cannot create run file '{}': {}", f.work_path_, std::strerror(errno)));
    f.file_ = Handle(id, H5Fclose);
    return f;
}

File File::open_read(const std::string& path) {
    silence_library_errors();
    if (access(path.c_str(), R_OK) != 0) throw Error(fmt::format("cannot open '{}': {}", path, std::strerror(errno)));
    if (H5Fis_hdf5(path.c_str()) <= 0) throw Error(fmt::format("'{}' is not an HDF5 file", path));
    File f;
    f.final_path_ = f.work_path_ = path;
    hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    if (id < 0) throw Error(fmt::format("cannot open '{}' as HDF5 (damaged file?)", path));
    f.file_ = Handle(id, H5Fclose);
    return f;
}

File::~File() {
    // Not committed: close what is there; it stays as "<path>.partial" for inspection.
    file_.reset();
}

Group File::root() const {
    return Group(Handle(check(H5Gopen2(file_.get(), "/", H5P_DEFAULT), "open root group"), H5Gclose), "/");
}

void File::flush() const {
    check_status(H5Fflush(file_.get(), H5F_SCOPE_GLOBAL), "flush " + work_path_);
}

void File::discard() {
    if (!writable_) return;
    file_.reset();
    std::remove(work_path_.c_str());
    writable_ = false;
}

void File::commit() {
    if (!writable_) return;
    flush();
    file_.reset();
    if (std::rename(work_path_.c_str(), final_path_.c_str()) != 0)
        throw Error(fmt::format("cannot rename '{}' to '{}': {}", work_path_, final_path_, std::strerror(errno)));
    writable_ = false;
}

}  // namespace rmaat::h5
