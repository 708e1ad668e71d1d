#pragma once
// The families of choices of the model, one table each (docs/design.md section 5): the config
// names, their help, the enum they parse to and the "known: ..." error come from these rows.
#include "core/choices.hpp"

namespace rmaat::layers {

enum class AttentionKind { astro, linear, softmax };
inline constexpr Choice<AttentionKind> kAttentionKindRows[] = {
    {AttentionKind::astro, "astro", "astromorphic linear attention (phi = elu + 1, astro term, g^alpha)"},
    {AttentionKind::linear, "linear", "Katharopoulos linear attention (alpha = 1, no astro term, c = 1)"},
    {AttentionKind::softmax, "softmax", "scaled dot-product attention (forms N x N)"},
};
inline constexpr ChoiceTable kAttentionKinds{"attention kind", kAttentionKindRows};

enum class ModelKind { rmaat, rmt, rlt, transformer, at, linear };
struct ModelKindInfo {
    AttentionKind attention;
    bool recurrent;  // segments with memory tokens; the recurrence lives in trainer/recurrence
};
inline constexpr Choice<ModelKind> kModelKindRows[] = {
    {ModelKind::rmaat, "rmaat", "astromorphic attention + memory tokens + retention (RMAAT)"},
    {ModelKind::rmt, "rmt", "softmax attention + memory tokens (recurrent memory transformer)"},
    {ModelKind::rlt, "rlt", "linear attention + memory tokens, no retention, no astro term"},
    {ModelKind::transformer, "transformer", "softmax attention over the whole sequence"},
    {ModelKind::at, "at", "astromorphic attention over the whole sequence, no recurrence"},
    {ModelKind::linear, "linear", "linear transformer (Katharopoulos) over the whole sequence"},
};
inline constexpr ChoiceTable kModelKinds{"model kind", kModelKindRows};
// What each kind is made of (same order as the rows above).
constexpr ModelKindInfo model_kind_info(ModelKind k) {
    switch (k) {
        case ModelKind::rmaat: return {AttentionKind::astro, true};
        case ModelKind::rmt: return {AttentionKind::softmax, true};
        case ModelKind::rlt: return {AttentionKind::linear, true};
        case ModelKind::transformer: return {AttentionKind::softmax, false};
        case ModelKind::at: return {AttentionKind::astro, false};
        case ModelKind::linear: return {AttentionKind::linear, false};
    }
    return {AttentionKind::astro, false};
}

enum class Retention { paper, blend, none };
inline constexpr Choice<Retention> kRetentionRows[] = {
    {Retention::paper, "paper", "mem_{t+1} = RF(t, T) mem'_{t+1} (the paper's form)"},
    {Retention::blend, "blend", "mem_{t+1} = RF mem'_{t+1} + (1 - RF) mem_t"},
    {Retention::none, "none", "mem_{t+1} = mem'_{t+1} (ablation; rmt and rlt always)"},
};
inline constexpr ChoiceTable kRetentionModes{"retention mode", kRetentionRows};

enum class Pooling { mean, cls };
inline constexpr Choice<Pooling> kPoolingRows[] = {
    {Pooling::mean, "mean", "mean over the real tokens of the sample's last real segment"},
    {Pooling::cls, "cls", "a learned CLS token (whole-sequence kinds) or the first memory slot (recurrent)"},
};
inline constexpr ChoiceTable kPoolings{"pooling", kPoolingRows};

enum class Head { classify, match };
inline constexpr Choice<Head> kHeadRows[] = {
    {Head::classify, "classify", "linear classifier on the sequence representation"},
    {Head::match, "match", "two documents: [u, v, u*v, u-v] -> MLP -> classifier (Retrieval)"},
};
inline constexpr ChoiceTable kHeads{"head", kHeadRows};

}  // namespace rmaat::layers
