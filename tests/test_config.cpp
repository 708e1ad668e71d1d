#include "tests/catch.hpp"
TEST_CASE("placeholder test_config") { CHECK(true); }
