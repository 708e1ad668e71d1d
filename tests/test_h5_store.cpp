#include "tests/catch.hpp"
TEST_CASE("placeholder test_h5_store") { CHECK(true); }
