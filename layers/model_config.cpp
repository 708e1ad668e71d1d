#include "layers/model_config.hpp"

#include <fmt/format.h>

#include "core/choices.hpp"

namespace rmaat::layers {

ModelConfig read_model_config(const ConfigSection& s, const std::string& config_dir) {
    ModelConfig c;
    ModelOptions& o = c.options;
    const ModelOptions d;
    o.kind = get_choice(s, "kind", d.kind, kModelKinds);
    o.vocab_size = s.get_int("vocab_size", d.vocab_size, Range::closed(1, 1e9));
    o.n_classes = s.get_int("n_classes", d.n_classes, Range::closed(2, 1e9));
    o.d_model = s.get_int("d_model", d.d_model, Range::closed(1, 1e6));
    o.n_heads = s.get_int("n_heads", d.n_heads, Range::closed(1, 1e4));
    if (o.d_model % o.n_heads != 0)
        throw s.error("n_heads", fmt::format("{} heads do not divide d_model = {}", o.n_heads, o.d_model));
    o.n_layers = s.get_int("n_layers", d.n_layers, Range::closed(1, 1e4));
    o.d_ff = s.get_int("d_ff", d.d_ff, Range::closed(1, 1e7));
    o.dropout = s.get_double("dropout", d.dropout, Range{0.0, 1.0, false, true});
    o.pre_ln = s.get_bool("pre_ln", d.pre_ln);
    o.max_len = s.get_int("max_len", d.max_len, Range::closed(1, 1e9));
    o.segment_length = s.get_int("segment_length", d.segment_length, Range::closed(1, 1e9));
    o.memory_tokens = s.get_int("memory_tokens", d.memory_tokens, Range::closed(0, 1e6));
    o.retention = get_choice(s, "retention", d.retention, kRetentionModes);
    o.pooling = get_choice(s, "pooling", d.pooling, kPoolings);
    o.head = get_choice(s, "head", d.head, kHeads);
    o.qk_dim = s.get_int("qk_dim", d.qk_dim, Range::closed(0, 1e6));
    o.astro_term = s.get_bool("astro_term", d.astro_term);
    o.sigmoid_on_H = s.get_bool("sigmoid_on_H", d.sigmoid_on_H);
    o.inv_m = s.get_double("inv_m", d.inv_m, Range::non_negative());
    if (s.has("alpha")) c.alpha = s.get_double("alpha", 0.25, Range::positive());
    if (s.has("scale")) c.scale = s.get_double("scale", 0.1, Range::non_negative());
    std::string cal = s.get_string("calibration", "");
    if (!cal.empty() && cal.front() != '/' && !config_dir.empty()) cal = config_dir + "/" + cal;
    c.calibration = cal;
    if (o.recurrent() && o.pooling == Pooling::cls && o.memory_tokens == 0)
        throw s.error("pooling",
                      "\"cls\" of a recurrent model reads the first memory slot: memory_tokens must be >= 1");
    try {
        o.validate();  // the remaining cross-field checks
    } catch (const std::invalid_argument& e) {
        throw ConfigError(fmt::format("[{}]: {}", s.path(), e.what()));
    }
    return c;
}

Model build_model(const ModelConfig& cfg, MacroParameters macro) {
    if (cfg.alpha) macro.alpha = *cfg.alpha;
    if (cfg.scale) macro.scale = *cfg.scale;
    return Model(cfg.options, macro);
}

int calibration_segments(const ModelOptions& o) {
    return o.recurrent() ? static_cast<int>(o.segments(o.max_len)) : 1;
}

std::vector<std::string> parameter_names(const Model& model) {
    std::vector<std::string> names;
    for (const auto& p : model->named_parameters()) names.push_back(p.key());
    return names;
}

}  // namespace rmaat::layers
