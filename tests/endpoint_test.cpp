#include <wire/endpoint.h>

#include <gtest/gtest.h>

namespace wire {
namespace {

TEST(Endpoint, ParsesAndPrintsIpv4) {
    const auto e = endpoint::parse("127.0.0.1", 8080);
    ASSERT_TRUE(e.has_value());
    EXPECT_FALSE(e->is_v6());
    EXPECT_EQ(e->port(), 8080);
    EXPECT_EQ(e->address(), "127.0.0.1");
    EXPECT_EQ(e->to_string(), "127.0.0.1:8080");
    EXPECT_EQ(*e, endpoint::loopback_v4(8080));
}

TEST(Endpoint, ParsesAndPrintsIpv6) {
    const auto e = endpoint::parse("::1", 443);
    ASSERT_TRUE(e.has_value());
    EXPECT_TRUE(e->is_v6());
    EXPECT_EQ(e->port(), 443);
    EXPECT_EQ(e->to_string(), "[::1]:443");
    EXPECT_EQ(*e, endpoint::loopback_v6(443));
}

TEST(Endpoint, RejectsNamesAndGarbage) {
    EXPECT_FALSE(endpoint::parse("localhost", 1).has_value());
    EXPECT_FALSE(endpoint::parse("", 1).has_value());
    EXPECT_FALSE(endpoint::parse("256.0.0.1", 1).has_value());
    EXPECT_FALSE(endpoint::parse("1.2.3.4:80", 1).has_value());
}

TEST(Endpoint, EmptyPrintsAsNone) { EXPECT_EQ(endpoint{}.to_string(), "(none)"); }

}  // namespace
}  // namespace wire
