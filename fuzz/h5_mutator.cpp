#include "fuzz/h5_mutator.hpp"

#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "fuzz/support.hpp"

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace rmaat::fuzz {

namespace {

using Rng = std::minstd_rand;

std::size_t pick(Rng& rng, std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
}

double edge_value(Rng& rng, double current) {
    const double values[] = {0.0,
                             -1.0,
                             1.0,
                             -0.0,
                             std::numeric_limits<double>::quiet_NaN(),
                             std::numeric_limits<double>::infinity(),
                             -std::numeric_limits<double>::infinity(),
                             1e300,
                             -1e300,
                             5e-324,
                             2147483648.0,
                             9007199254740993.0,
                             1e19,
                             current + 1,
                             current - 1,
                             current * 2,
                             -current,
                             static_cast<double>(pick(rng, 64))};
    return values[pick(rng, std::size(values))];
}

// Scoped hid_t, closed with the matching H5?close.
struct Id {
    hid_t id;
    herr_t (*close)(hid_t);
    ~Id() {
        if (id >= 0) close(id);
    }
    operator hid_t() const { return id; }
};

struct Object {
    std::string path;
    bool dataset;
};

herr_t collect(hid_t, const char* name, const H5O_info_t* info, void* out) {
    auto* objects = static_cast<std::vector<Object>*>(out);
    if (info->type == H5O_TYPE_DATASET || info->type == H5O_TYPE_GROUP)
        objects->push_back({std::strcmp(name, ".") == 0 ? "/" : name, info->type == H5O_TYPE_DATASET});
    return 0;
}

// A numeric dataset's values as doubles (at most 2^20 of them), with its dims; false otherwise.
bool read_numeric(hid_t d, std::vector<double>& values, std::vector<hsize_t>& dims) {
    const Id type{H5Dget_type(d), H5Tclose};
    const H5T_class_t cls = type < 0 ? H5T_NO_CLASS : H5Tget_class(type);
    if (cls != H5T_FLOAT && cls != H5T_INTEGER) return false;
    const Id space{H5Dget_space(d), H5Sclose};
    const int rank = space < 0 ? -1 : H5Sget_simple_extent_ndims(space);
    const hssize_t n = space < 0 ? -1 : H5Sget_simple_extent_npoints(space);
    if (rank < 0 || rank > 8 || n < 0 || n > (1 << 20)) return false;
    dims.resize(rank);
    if (rank > 0) H5Sget_simple_extent_dims(space, dims.data(), nullptr);
    values.resize(n);
    return n == 0 || H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) >= 0;
}

void set_element(hid_t file, const std::string& path, Rng& rng) {
    const Id d{H5Dopen2(file, path.c_str(), H5P_DEFAULT), H5Dclose};
    std::vector<double> v;
    std::vector<hsize_t> dims;
    if (d < 0 || !read_numeric(d, v, dims) || v.empty()) return;
    double& x = v[pick(rng, v.size())];
    x = edge_value(rng, x);
    H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
}

void reshape(hid_t file, const std::string& path, Rng& rng) {
    std::vector<double> v;
    std::vector<hsize_t> dims;
    {
        const Id d{H5Dopen2(file, path.c_str(), H5P_DEFAULT), H5Dclose};
        if (d < 0 || !read_numeric(d, v, dims)) return;
    }
    if (dims.empty() || pick(rng, 4) == 0) {
        dims.resize(pick(rng, 4));  // another rank: 0 (scalar) to 3
        for (auto& n : dims) n = 1 + pick(rng, 12);
    } else {
        hsize_t& n = dims[pick(rng, dims.size())];
        // The last two claim more than any memory (2^31, 2^32 elements): storage is never written, so
        // the file stays small and reads give the fill value.
        const hsize_t lengths[] = {
            0, 1, n > 0 ? n - 1 : 0, n + 1, 2 * n, pick(rng, 100), hsize_t(1) << 31, hsize_t(1) << 32};
        n = lengths[pick(rng, std::size(lengths))];
    }
    hsize_t count = 1;
    for (auto n : dims) count = n != 0 && count > (hsize_t(1) << 40) / n ? hsize_t(1) << 40 : count * n;
    if (count > (1 << 20)) count = 0;  // too large to write: left unwritten
    std::vector<double> values(count);
    for (hsize_t i = 0; i < count; ++i) values[i] = v.empty() ? double(i) : v[i % v.size()];
    if (H5Ldelete(file, path.c_str(), H5P_DEFAULT) < 0) return;
    const Id space{dims.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple(int(dims.size()), dims.data(), nullptr),
                   H5Sclose};
    const Id d{H5Dcreate2(file, path.c_str(), H5T_NATIVE_DOUBLE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
               H5Dclose};
    if (d >= 0 && count > 0) H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
}

void move(hid_t file, const std::string& path, const std::vector<Object>& objects, Rng& rng) {
    const std::string& other = objects[pick(rng, objects.size())].path;
    const std::string to = (other == "/" ? "" : other) + "/" + path.substr(path.rfind('/') + 1);
    H5Lmove(file, path.c_str(), file, to.c_str(), H5P_DEFAULT, H5P_DEFAULT);
}

herr_t collect_attr(hid_t, const char* name, const H5A_info_t*, void* out) {
    static_cast<std::vector<std::string>*>(out)->push_back(name);
    return 0;
}

// A string attribute's bytes through libFuzzer's mutator (rewritten as a variable-length string), or a
// numeric one set to an edge value.
void mutate_attribute(hid_t file, const std::string& path, Rng& rng) {
    const Id obj{H5Oopen(file, path.c_str(), H5P_DEFAULT), H5Oclose};
    std::vector<std::string> names;
    if (obj < 0 || H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_attr, &names) < 0 || names.empty())
        return;
    const std::string name = names[pick(rng, names.size())];
    std::string text;
    {
        const Id a{H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose};
        const Id type{a < 0 ? -1 : H5Aget_type(a), H5Tclose};
        if (type < 0) return;
        if (H5Tget_class(type) != H5T_STRING) {
            double x = 0;
            const Id space{H5Aget_space(a), H5Sclose};
            if (H5Sget_simple_extent_npoints(space) != 1 || H5Aread(a, H5T_NATIVE_DOUBLE, &x) < 0) return;
            x = edge_value(rng, x);
            H5Awrite(a, H5T_NATIVE_DOUBLE, &x);
            return;
        }
        const Id mem{H5Tcopy(H5T_C_S1), H5Tclose};
        H5Tset_size(mem, H5T_VARIABLE);
        char* s = nullptr;
        if (H5Aread(a, mem, &s) >= 0 && s) text = s;
        H5free_memory(s);
    }
    if (text.empty()) text = " ";
    std::vector<std::uint8_t> bytes(text.begin(), text.end());
    bytes.resize(2 * bytes.size() + 16);
    bytes.resize(LLVMFuzzerMutate(bytes.data(), text.size(), bytes.size()));
    text.assign(bytes.begin(), bytes.end());
    text.erase(std::find(text.begin(), text.end(), '\0'), text.end());
    if (H5Adelete(obj, name.c_str()) < 0) return;
    const Id type{H5Tcopy(H5T_C_S1), H5Tclose};
    H5Tset_size(type, H5T_VARIABLE);
    const Id space{H5Screate(H5S_SCALAR), H5Sclose};
    const Id a{H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
    const char* p = text.c_str();
    if (a >= 0) H5Awrite(a, type, &p);
}

herr_t collect_link(hid_t, const char* name, const H5L_info_t*, void* out) {
    static_cast<std::vector<std::string>*>(out)->push_back(name);
    return 0;
}

// One attribute of `from` onto `to`: variable-length strings as such, any fixed-size type byte for byte.
void copy_attribute(hid_t from, hid_t to, const std::string& name) {
    const Id a{H5Aopen(from, name.c_str(), H5P_DEFAULT), H5Aclose};
    const Id type{a < 0 ? -1 : H5Aget_type(a), H5Tclose};
    const Id space{a < 0 ? -1 : H5Aget_space(a), H5Sclose};
    if (type < 0 || space < 0) return;
    const hssize_t n = H5Sget_simple_extent_npoints(space);
    if (n < 0 || n > (1 << 20)) return;
    if (H5Tis_variable_str(type) > 0) {
        if (n != 1) return;
        const Id mem{H5Tcopy(H5T_C_S1), H5Tclose};
        H5Tset_size(mem, H5T_VARIABLE);
        char* text = nullptr;
        if (H5Aread(a, mem, &text) >= 0) {
            const Id b{H5Acreate2(to, name.c_str(), mem, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
            if (b >= 0) H5Awrite(b, mem, &text);
        }
        H5free_memory(text);
        return;
    }
    if (H5Tdetect_class(type, H5T_VLEN) > 0) return;
    std::vector<char> bytes(H5Tget_size(type) * static_cast<std::size_t>(n));
    if (H5Aread(a, type, bytes.data()) < 0) return;
    const Id b{H5Acreate2(to, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
    if (b >= 0) H5Awrite(b, type, bytes.data());
}

// `from` rewritten into a fresh file `to` through the library (what it can read of it), then one edit.
// False when `from` does not open or holds nothing to edit. Editing a copy, never the input itself: HDF5
// 1.10 can fail to close a damaged file opened for writing and then crash at exit.
bool copy_and_edit(const std::string& from, const std::string& to, Rng& rng) {
    const Id src{H5Fopen(from.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose};
    if (src < 0) return false;
    const Id file{H5Fcreate(to.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose};
    if (file < 0) return false;
    std::vector<std::string> links, attrs;
    H5Literate(src, H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_link, &links);
    for (const auto& l : links) H5Ocopy(src, l.c_str(), file, l.c_str(), H5P_DEFAULT, H5P_DEFAULT);
    H5Aiterate2(src, H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_attr, &attrs);
    for (const auto& a : attrs) copy_attribute(src, file, a);

    std::vector<Object> objects;
    if (H5Ovisit(file, H5_INDEX_NAME, H5_ITER_INC, collect, &objects) < 0 || objects.empty()) return false;
    const Object& o = objects[pick(rng, objects.size())];
    switch (pick(rng, 6)) {
        case 0:
        case 1:
            if (o.dataset) set_element(file, o.path, rng);
            break;
        case 2:
            if (o.dataset) reshape(file, o.path, rng);
            break;
        case 3:
            if (o.path != "/") H5Ldelete(file, o.path.c_str(), H5P_DEFAULT);
            break;
        case 4:
            if (o.path != "/") move(file, o.path, objects, rng);
            break;
        default: mutate_attribute(file, o.path, rng);
    }
    return true;
}

std::vector<char> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    std::vector<char> bytes(in ? static_cast<std::size_t>(in.tellg()) : 0);
    in.seekg(0);
    in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return in ? bytes : std::vector<char>();
}

}  // namespace

std::size_t mutate_hdf5(std::uint8_t* data, std::size_t size, std::size_t max_size, unsigned int seed) {
    static const bool bytes_too = std::getenv("RMAAT_FUZZ_BYTES") != nullptr;
    Rng rng(seed);
    if (!bytes_too || pick(rng, 2) == 0) {
        const std::string from = scratch_dir() + "/mutate_from.h5", to = scratch_dir() + "/mutate_to.h5";
        write_bytes(from, data, size);
        for (int attempt = 0; attempt < 3; ++attempt) {  // an edit can fail (e.g. a new name that exists)
            if (!copy_and_edit(from, to, rng)) break;
            const std::vector<char> out = read_file(to);
            if (!out.empty() && out.size() <= max_size) {
                std::memcpy(data, out.data(), out.size());
                return out.size();
            }
        }
        if (!bytes_too) return size;  // unchanged: an input the library cannot read has no structure to edit
    }
    return LLVMFuzzerMutate(data, size, max_size);
}

}  // namespace rmaat::fuzz
