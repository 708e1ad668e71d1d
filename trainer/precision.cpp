#include "trainer/precision.hpp"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

namespace rmaat::trainer {

namespace {

// LibTorch 2.4 made autocast's state per device type (set_autocast_enabled(device, on)); 1.13 has one
// function per device. Only CPU and CUDA are used here.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
bool enabled(c10::DeviceType d) {
    return at::autocast::is_autocast_enabled(d);
}
void set_enabled(c10::DeviceType d, bool on) {
    at::autocast::set_autocast_enabled(d, on);
}
c10::ScalarType dtype(c10::DeviceType d) {
    return at::autocast::get_autocast_dtype(d);
}
void set_dtype(c10::DeviceType d, c10::ScalarType t) {
    at::autocast::set_autocast_dtype(d, t);
}
#else
bool enabled(c10::DeviceType d) {
    return d == c10::DeviceType::CUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
}
void set_enabled(c10::DeviceType d, bool on) {
    if (d == c10::DeviceType::CUDA)
        at::autocast::set_enabled(on);
    else
        at::autocast::set_cpu_enabled(on);
}
c10::ScalarType dtype(c10::DeviceType d) {
    return d == c10::DeviceType::CUDA ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
}
void set_dtype(c10::DeviceType d, c10::ScalarType t) {
    if (d == c10::DeviceType::CUDA)
        at::autocast::set_autocast_gpu_dtype(t);
    else
        at::autocast::set_autocast_cpu_dtype(t);
}
#endif

}  // namespace

AutocastScope::AutocastScope(Precision precision, c10::DeviceType device) : device_(device) {
    if (precision == Precision::fp32) return;
    TORCH_CHECK(device == c10::DeviceType::CPU || device == c10::DeviceType::CUDA,
                "precision \"bf16\": autocast on CPU or CUDA only, not ", device);
    active_ = true;
    was_enabled_ = enabled(device);
    was_dtype_ = dtype(device);
    set_enabled(device, true);
    set_dtype(device, c10::ScalarType::BFloat16);
    at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
    if (!active_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    set_enabled(device_, was_enabled_);
    set_dtype(device_, was_dtype_);
}

}  // namespace rmaat::trainer
