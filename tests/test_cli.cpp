#include "tests/catch.hpp"
TEST_CASE("placeholder test_cli") { CHECK(true); }
