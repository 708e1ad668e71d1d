#pragma once
// Where simulations put what they record.
//
// A model declares named streams (tables of rows that share a time column: "trace" on the fixed
// recording grid, "ltp" at cycle boundaries, "spikes" at events) and appends rows as it runs, plus
// scalar summary values. MemoryRecorder keeps everything in memory (tests, calibration); H5Recorder
// streams into a run file group, flushing as it grows, so an error mid-run leaves a readable file.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "core/h5_store.hpp"

namespace rmaat::sim {

struct Column {
    std::string name;
    std::string units;
    long size = 1;  // values per row (1: scalar column)
};

class Recorder {
public:
    virtual ~Recorder() = default;
    virtual void add_stream(const std::string& stream, const std::vector<Column>& columns) = 0;
    // `row` holds the columns' values back to back, in declared order.
    virtual void append(const std::string& stream, double t_s, const double* row) = 0;
    virtual void summary(const std::string& name, double value, const std::string& units) = 0;
    // Fixed data known before or after the run (synapse positions, tables): a 2-D array.
    virtual void array(const std::string& name, const Eigen::MatrixXd& value, const std::string& units) = 0;
    // Descriptive text (geometry kind, coupling method), stored as an attribute.
    virtual void info(const std::string& name, const std::string& value) = 0;
    virtual void flush() {}
};

class MemoryRecorder : public Recorder {
public:
    void add_stream(const std::string& stream, const std::vector<Column>& columns) override;
    void append(const std::string& stream, double t_s, const double* row) override;
    void summary(const std::string& name, double value, const std::string& units) override;
    void array(const std::string& name, const Eigen::MatrixXd& value, const std::string& units) override;
    void info(const std::string& name, const std::string& value) override;

    // Sends everything recorded, in the same order, to another recorder (e.g. into a run file).
    void replay(Recorder& target) const;

    const Eigen::MatrixXd& array_value(const std::string& name) const;
    const std::string& info_value(const std::string& name) const;
    bool has_stream(const std::string& stream) const { return streams_.count(stream) > 0; }
    const std::vector<double>& times(const std::string& stream) const;
    // rows x size matrix of one column.
    Eigen::MatrixXd column(const std::string& stream, const std::string& name) const;
    double summary_value(const std::string& name) const;
    bool has_summary(const std::string& name) const { return summaries_.count(name) > 0; }

private:
    struct Stream {
        std::vector<Column> columns;
        long row_size = 0;
        std::vector<double> times;
        std::vector<double> data;
    };
    const Stream& stream(const std::string& name) const;
    std::map<std::string, Stream> streams_;
    std::map<std::string, double> summaries_;
    std::map<std::string, std::string> summary_units_;
    std::map<std::string, Eigen::MatrixXd> arrays_;
    std::map<std::string, std::string> array_units_;
    std::map<std::string, std::string> infos_;
};

// Writes streams as <group>/<stream>/time and <group>/<stream>/<column> ([rows] or [rows, size]),
// summaries as scalar datasets of <group>/summary and arrays as datasets of <group>, each with a
// "units" attribute; info as string attributes of <group>.
class H5Recorder : public Recorder {
public:
    explicit H5Recorder(h5::Group group, const h5::File* file_to_flush = nullptr);
    void add_stream(const std::string& stream, const std::vector<Column>& columns) override;
    void append(const std::string& stream, double t_s, const double* row) override;
    void summary(const std::string& name, double value, const std::string& units) override;
    void array(const std::string& name, const Eigen::MatrixXd& value, const std::string& units) override;
    void info(const std::string& name, const std::string& value) override;
    void flush() override;

private:
    struct Stream {
        h5::Group group;
        h5::AppendableDataset time;
        std::vector<h5::AppendableDataset> columns;
        std::vector<long> sizes;
    };
    h5::Group group_;
    const h5::File* file_;
    std::map<std::string, Stream> streams_;
};

}  // namespace rmaat::sim
