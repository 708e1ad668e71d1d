#include "trainer/run_file.hpp"

#include <iterator>

#include <fmt/format.h>

#include "core/config.hpp"

namespace rmaat::trainer {

namespace {

std::vector<hsize_t> dims_of(const torch::Tensor& t) {
    std::vector<hsize_t> d;
    for (auto s : t.sizes()) d.push_back(static_cast<hsize_t>(s));
    return d;
}

std::string shape_text(const std::vector<hsize_t>& dims) {
    std::string s;
    for (size_t i = 0; i < dims.size(); ++i) s += (i ? " x " : "") + std::to_string(dims[i]);
    return "[" + s + "]";
}

std::vector<double> column(const std::vector<MetricRow>& rows, size_t c) {
    std::vector<double> v;
    v.reserve(rows.size());
    for (const auto& r : rows) v.push_back(r.*kMetricFields[c]);
    return v;
}

}  // namespace

MetricsStream::MetricsStream(const h5::Group& train) {
    const h5::Group m = train.group("metrics"), e = train.group("eval");
    for (size_t c = 0; c < std::size(kMetricColumns); ++c)
        m_.push_back(m.appendable(kMetricColumns[c], {}, kMetricUnits[c], 64));
    e_.push_back(e.appendable("step", {}, "1", 16));
    e_.push_back(e.appendable("loss", {}, "nat", 16));
    e_.push_back(e.appendable("accuracy", {}, "1", 16));
}

void MetricsStream::append(const MetricRow& r) {
    for (size_t c = 0; c < m_.size(); ++c) m_[c].append(r.*kMetricFields[c]);
}

void MetricsStream::append(const EvalRow& r) {
    e_[0].append(r.step);
    e_[1].append(r.loss);
    e_[2].append(r.accuracy);
}

void MetricsStream::flush() {
    for (auto& d : m_) d.flush();
    for (auto& d : e_) d.flush();
}

void write_tensor(const h5::Group& g, const std::string& name, const torch::Tensor& t, const std::string& units) {
    const auto d = t.detach().to(torch::kCPU, torch::kDouble).contiguous();
    std::vector<double> v(d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
    g.write(name, v, dims_of(t), units);
}

void read_tensor_into(const h5::Group& g, const std::string& name, torch::Tensor& t) {
    if (!g.has(name)) throw h5::Error(fmt::format("{}: {}/{} is missing", g.file(), g.path(), name));
    const auto want = dims_of(t);
    h5::Array a = g.read(name, static_cast<int>(want.size()), static_cast<hsize_t>(std::max<int64_t>(t.numel(), 1)));
    if (a.dims != want)
        throw h5::Error(fmt::format("{}: {}/{} has shape {}, the model's is {}", g.file(), g.path(), name,
                                    shape_text(a.dims), shape_text(want)));
    const auto src = torch::from_blob(a.data.data(), t.sizes(), torch::kDouble).to(t.dtype());
    torch::NoGradGuard no_grad;
    t.copy_(src);
}

void write_model(const h5::Group& root, layers::ModelImpl& model, const std::vector<torch::Tensor>& best,
                 int64_t best_step) {
    const h5::Group m = root.group("model");
    const auto& o = model.options();
    m.attr("vocab_size", static_cast<std::int64_t>(o.vocab_size));
    m.attr("n_classes", static_cast<std::int64_t>(o.n_classes));
    m.attr("max_len", static_cast<std::int64_t>(o.max_len));
    const h5::Group macro = m.group("macro");
    const MacroParameters& mp = model.macro();
    const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> rf = mp.rf;
    macro.write("rf", std::vector<double>(rf.data(), rf.data() + rf.size()),
                {static_cast<hsize_t>(rf.rows()), static_cast<hsize_t>(rf.cols())}, "1");
    macro.write("alpha", std::vector<double>{mp.alpha}, {}, "1");
    macro.write("scale", std::vector<double>{mp.scale}, {}, "1/token");
    macro.attr("source", mp.source);
    const h5::Group p = m.group("params");
    for (const auto& kv : model.named_parameters()) write_tensor(p, kv.key(), kv.value(), "1");
    const h5::Group b = m.group("buffers");
    for (const auto& kv : model.named_buffers()) write_tensor(b, kv.key(), kv.value(), "1");
    if (!best.empty()) {
        const h5::Group bg = m.group("best");
        bg.attr("step", static_cast<std::int64_t>(best_step));
        size_t i = 0;
        for (const auto& kv : model.named_parameters()) write_tensor(bg, kv.key(), best.at(i++), "1");
    }
}

layers::Model load_model(const h5::File& f, bool best, std::string* weights_used) {
    const h5::Group root = f.root();
    const std::string file = f.path();
    if (!root.has("model") || !root.has_attr("config"))
        throw h5::Error(fmt::format("{}: not a training run or checkpoint (no /model or no config)", file));
    const h5::Group m = root.open_group("model");
    const Config cfg = Config::from_string(root.attr_string("config"), file + ": config");
    layers::ModelConfig mc = layers::read_model_config(cfg.section("model"));
    auto size = [&](const char* k, int64_t lo) {
        const int64_t v = m.attr_int(k);
        if (v < lo || v > int64_t(1) << 31)
            throw h5::Error(fmt::format("{}: /model attribute {} = {} out of range", file, k, v));
        return v;
    };
    mc.options.vocab_size = size("vocab_size", 1);
    mc.options.n_classes = size("n_classes", 2);
    mc.options.max_len = size("max_len", 1);
    try {
        mc.options.validate();
    } catch (const std::invalid_argument& e) {
        throw h5::Error(fmt::format("{}: stored model options: {}", file, e.what()));
    }
    const h5::Group mg = m.open_group("macro");
    MacroParameters macro;
    const h5::Array rf = mg.read("rf", 2, 1u << 20);
    if (rf.dims[0] != rf.dims[1] || rf.dims[0] < 1)
        throw h5::Error(
            fmt::format("{}: /model/macro/rf has shape {}, expected a square table", file, shape_text(rf.dims)));
    macro.rf = Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
        rf.data.data(), static_cast<Eigen::Index>(rf.dims[0]), static_cast<Eigen::Index>(rf.dims[1]));
    macro.alpha = mg.read_scalar("alpha");
    macro.scale = mg.read_scalar("scale");
    macro.calibrated = true;
    macro.source = file;
    if (!(macro.alpha > 0) || !(macro.scale >= 0) || !macro.rf.allFinite())
        throw h5::Error(fmt::format("{}: /model/macro holds invalid values", file));
    mc.alpha.reset();
    mc.scale.reset();
    if (layers::calibration_segments(mc.options) > macro.T_max() && mc.options.kind == layers::ModelKind::rmaat)
        throw h5::Error(fmt::format("{}: /model/macro/rf covers {} segments, the model needs {}", file, macro.T_max(),
                                    layers::calibration_segments(mc.options)));
    layers::Model model = layers::build_model(mc, macro);
    const bool use_best = best && m.has("best");
    const h5::Group p = m.open_group(use_best ? "best" : "params");
    for (auto& kv : model->named_parameters()) read_tensor_into(p, kv.key(), kv.value());
    if (m.has("buffers")) {
        const h5::Group b = m.open_group("buffers");
        for (auto& kv : model->named_buffers()) read_tensor_into(b, kv.key(), kv.value());
    }
    if (weights_used)
        *weights_used = use_best ? fmt::format("best (step {})", p.attr_int("step")) : std::string("final");
    return model;
}

void write_optimizer(const h5::Group& root, AdamW& opt, const std::vector<std::string>& names) {
    const h5::Group g = root.group("train/optimizer");
    g.attr("step", static_cast<std::int64_t>(opt.steps()));
    g.attr("beta1", opt.options().beta1);
    g.attr("beta2", opt.options().beta2);
    g.attr("eps", opt.options().eps);
    g.attr("weight_decay", opt.options().weight_decay);
    const h5::Group m = g.group("m"), v = g.group("v");
    for (size_t i = 0; i < names.size(); ++i) {
        write_tensor(m, names[i], opt.m()[i], "1");
        write_tensor(v, names[i], opt.v()[i], "1");
    }
}

void read_optimizer(const h5::Group& root, AdamW& opt, const std::vector<std::string>& names) {
    const h5::Group g = root.open_group("train/optimizer");
    const int64_t step = g.attr_int("step");
    if (step < 0) throw h5::Error(fmt::format("{}: /train/optimizer step {} < 0", g.file(), step));
    opt.set_steps(step);
    const h5::Group m = g.open_group("m"), v = g.open_group("v");
    for (size_t i = 0; i < names.size(); ++i) {
        read_tensor_into(m, names[i], opt.m()[i]);
        read_tensor_into(v, names[i], opt.v()[i]);
    }
}

void write_state(const h5::Group& root, const TrainState& s, bool with_rows) {
    const h5::Group g = root.group("train/state");
    g.attr("step", static_cast<std::int64_t>(s.step));
    g.attr("epoch", static_cast<std::int64_t>(s.position.epoch));
    g.attr("batch", static_cast<std::int64_t>(s.position.batch));
    g.attr("best_step", static_cast<std::int64_t>(s.best_step));
    g.attr("best_accuracy", s.best_accuracy);
    g.attr("threads", static_cast<std::int64_t>(s.threads));
    g.attr("elapsed_s", s.elapsed_s);
    if (!with_rows) return;
    const h5::Group m = root.group("train/metrics");
    for (size_t c = 0; c < std::size(kMetricColumns); ++c)
        m.write(kMetricColumns[c], column(s.metrics, c), {s.metrics.size()}, kMetricUnits[c]);
    const h5::Group e = root.group("train/eval");
    std::vector<double> st, lo, ac;
    for (const auto& r : s.evals) {
        st.push_back(r.step);
        lo.push_back(r.loss);
        ac.push_back(r.accuracy);
    }
    e.write("step", st, {st.size()}, "1");
    e.write("loss", lo, {lo.size()}, "nat");
    e.write("accuracy", ac, {ac.size()}, "1");
}

TrainState read_state(const h5::Group& root) {
    const h5::Group g = root.open_group("train/state");
    TrainState s;
    s.step = g.attr_int("step");
    s.position.epoch = g.attr_int("epoch");
    s.position.batch = g.attr_int("batch");
    s.best_step = g.attr_int("best_step");
    s.best_accuracy = g.attr_double("best_accuracy");
    s.threads = g.attr_int("threads");
    s.elapsed_s = g.attr_double("elapsed_s");
    if (s.step < 0 || s.position.epoch < 0 || s.position.batch < 0 || s.threads < 1 || s.threads > 4096)
        throw h5::Error(fmt::format("{}: /train/state holds values out of range", g.file()));
    const h5::Group m = root.open_group("train/metrics");
    std::vector<h5::Array> cols;
    for (const char* c : kMetricColumns) cols.push_back(m.read(c, 1, hsize_t(1) << 26));
    const size_t n = cols[0].data.size();
    for (const auto& c : cols)
        if (c.data.size() != n) throw h5::Error(fmt::format("{}: /train/metrics columns differ in length", g.file()));
    s.metrics.resize(n);
    for (size_t i = 0; i < n; ++i)
        for (size_t c = 0; c < cols.size(); ++c) s.metrics[i].*kMetricFields[c] = cols[c].data[i];
    const h5::Group e = root.open_group("train/eval");
    const auto st = e.read("step", 1, hsize_t(1) << 26), lo = e.read("loss", 1, hsize_t(1) << 26),
               ac = e.read("accuracy", 1, hsize_t(1) << 26);
    if (lo.data.size() != st.data.size() || ac.data.size() != st.data.size())
        throw h5::Error(fmt::format("{}: /train/eval columns differ in length", g.file()));
    for (size_t i = 0; i < st.data.size(); ++i) s.evals.push_back({st.data[i], lo.data[i], ac.data[i]});
    return s;
}

}  // namespace rmaat::trainer
