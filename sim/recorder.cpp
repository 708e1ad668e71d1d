#include "sim/recorder.hpp"

#include <stdexcept>

namespace rmaat::sim {

void MemoryRecorder::add_stream(const std::string& stream, const std::vector<Column>& columns) {
    Stream s;
    s.columns = columns;
    for (const auto& c : columns) s.row_size += c.size;
    streams_[stream] = std::move(s);
}

void MemoryRecorder::append(const std::string& stream, double t_s, const double* row) {
    auto it = streams_.find(stream);
    if (it == streams_.end()) throw std::logic_error("append to undeclared stream " + stream);
    it->second.times.push_back(t_s);
    it->second.data.insert(it->second.data.end(), row, row + it->second.row_size);
}

void MemoryRecorder::summary(const std::string& name, double value, const std::string& units) {
    summaries_[name] = value;
    summary_units_[name] = units;
}

void MemoryRecorder::replay(Recorder& target) const {
    for (const auto& [name, value] : infos_) target.info(name, value);
    for (const auto& [name, value] : arrays_) target.array(name, value, array_units_.at(name));
    for (const auto& [name, s] : streams_) {
        target.add_stream(name, s.columns);
        for (size_t r = 0; r < s.times.size(); ++r) target.append(name, s.times[r], s.data.data() + r * s.row_size);
    }
    for (const auto& [name, value] : summaries_) target.summary(name, value, summary_units_.at(name));
    target.flush();
}

void MemoryRecorder::array(const std::string& name, const Eigen::MatrixXd& value, const std::string& units) {
    arrays_[name] = value;
    array_units_[name] = units;
}

void MemoryRecorder::info(const std::string& name, const std::string& value) {
    infos_[name] = value;
}

const Eigen::MatrixXd& MemoryRecorder::array_value(const std::string& name) const {
    auto it = arrays_.find(name);
    if (it == arrays_.end()) throw std::out_of_range("no recorded array '" + name + "'");
    return it->second;
}

const std::string& MemoryRecorder::info_value(const std::string& name) const {
    auto it = infos_.find(name);
    if (it == infos_.end()) throw std::out_of_range("no recorded info '" + name + "'");
    return it->second;
}

const MemoryRecorder::Stream& MemoryRecorder::stream(const std::string& name) const {
    auto it = streams_.find(name);
    if (it == streams_.end()) throw std::out_of_range("no recorded stream '" + name + "'");
    return it->second;
}

const std::vector<double>& MemoryRecorder::times(const std::string& name) const {
    return stream(name).times;
}

Eigen::MatrixXd MemoryRecorder::column(const std::string& name, const std::string& col) const {
    const Stream& s = stream(name);
    long offset = 0;
    for (const auto& c : s.columns) {
        if (c.name == col) {
            const long rows = static_cast<long>(s.times.size());
            Eigen::MatrixXd m(rows, c.size);
            for (long r = 0; r < rows; ++r)
                for (long k = 0; k < c.size; ++k) m(r, k) = s.data[r * s.row_size + offset + k];
            return m;
        }
        offset += c.size;
    }
    throw std::out_of_range("stream '" + name + "' has no column '" + col + "'");
}

double MemoryRecorder::summary_value(const std::string& name) const {
    auto it = summaries_.find(name);
    if (it == summaries_.end()) throw std::out_of_range("no summary value '" + name + "'");
    return it->second;
}

H5Recorder::H5Recorder(h5::Group group, const h5::File* file_to_flush)
    : group_(std::move(group)), file_(file_to_flush) {}

void H5Recorder::add_stream(const std::string& stream, const std::vector<Column>& columns) {
    Stream s;
    s.group = group_.group(stream);
    s.time = s.group.appendable("time", {}, "s", 1024);
    for (const auto& c : columns) {
        std::vector<hsize_t> row_dims;
        if (c.size != 1) row_dims.push_back(static_cast<hsize_t>(c.size));
        s.columns.push_back(s.group.appendable(c.name, row_dims, c.units, 1024));
        s.sizes.push_back(c.size);
    }
    streams_[stream] = std::move(s);
}

void H5Recorder::append(const std::string& stream, double t_s, const double* row) {
    auto it = streams_.find(stream);
    if (it == streams_.end()) throw std::logic_error("append to undeclared stream " + stream);
    Stream& s = it->second;
    s.time.append(t_s);
    for (size_t i = 0; i < s.columns.size(); ++i) {
        s.columns[i].append(row);
        row += s.sizes[i];
    }
}

void H5Recorder::summary(const std::string& name, double value, const std::string& units) {
    group_.group("summary").write(name, std::vector<double>{value}, {}, units);
}

void H5Recorder::array(const std::string& name, const Eigen::MatrixXd& value, const std::string& units) {
    // Row-major on disk, as h5py and numpy expect.
    std::vector<double> data(static_cast<size_t>(value.size()));
    for (Eigen::Index r = 0; r < value.rows(); ++r)
        for (Eigen::Index c = 0; c < value.cols(); ++c) data[r * value.cols() + c] = value(r, c);
    group_.write(name, data, {static_cast<hsize_t>(value.rows()), static_cast<hsize_t>(value.cols())}, units);
}

void H5Recorder::info(const std::string& name, const std::string& value) {
    group_.attr(name, value);
}

void H5Recorder::flush() {
    for (auto& [name, s] : streams_) {
        s.time.flush();
        for (auto& c : s.columns) c.flush();
    }
    if (file_) file_->flush();
}

}  // namespace rmaat::sim
