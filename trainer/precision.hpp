#pragma once
// The arithmetic precision of a training step (docs/design.md section 6.3): fp32, or bf16 autocast.
//
// bf16 runs the model's forward passes under LibTorch's autocast on the model's device: matrix
// products (linear layers) in bfloat16, reductions and normalisations in fp32 (autocast's lists), the
// weights, gradients and AdamW state in fp32. The backward passes run outside autocast, as PyTorch
// recommends, and astro_attention keeps its own fp32 accumulation (kernels/astro_attention.hpp).
// AutocastScope is one forward region: it enables autocast for a device type, sets bf16, and on
// leaving restores the previous state (clearing autocast's cache of cast weights at the outermost
// level, since the weights change between steps).
#include <c10/core/DeviceType.h>

#include "core/choices.hpp"

namespace rmaat::trainer {

enum class Precision { fp32, bf16 };
inline constexpr Choice<Precision> kPrecisionRows[] = {
    {Precision::fp32, "fp32", "float32 throughout"},
    {Precision::bf16, "bf16", "bfloat16 autocast for the forward passes; fp32 weights, gradients, optimiser"},
};
inline constexpr ChoiceTable kPrecisions{"precision", kPrecisionRows};

class AutocastScope {
public:
    // Does nothing for fp32.
    AutocastScope(Precision precision, c10::DeviceType device);
    ~AutocastScope();
    AutocastScope(const AutocastScope&) = delete;
    AutocastScope& operator=(const AutocastScope&) = delete;

private:
    bool active_ = false, was_enabled_ = false;
    c10::DeviceType device_ = c10::DeviceType::CPU;
    c10::ScalarType was_dtype_ = c10::ScalarType::BFloat16;
};

}  // namespace rmaat::trainer
