#pragma once
// One include for Catch2 v2 (Debian bookworm, single header) and v3 (device image, split headers).
#if __has_include(<catch2/catch_test_macros.hpp>)
#include <catch2/catch_approx.hpp>
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_floating_point.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
using Catch::Approx;
#else
#include <catch2/catch.hpp>
namespace Catch::Matchers {
// v3 renamed the substring matcher.
inline StdString::ContainsMatcher ContainsSubstring(const std::string& s) {
    return Contains(s);
}
}  // namespace Catch::Matchers
using Catch::Detail::Approx;
#endif
using Catch::Matchers::ContainsSubstring;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;
