// The front-ends' command-line parsers (server/server_options.cpp, client/client_options.cpp):
// the contract's flags and defaults, and bad input refused with exit code 2 and one error line.
// Built natively under AddressSanitizer and UndefinedBehaviorSanitizer, with posix_endpoint.cpp
// standing in for the engine's Winsock endpoint; under Wine, tests/frontends drives the same parsers
// through server.exe and client.exe.
#include "client_options.h"
#include "server_options.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

namespace wire {
namespace {

using namespace std::chrono_literals;

struct outcome {
    int exit_code = 0;
    bool parsed = false;
    std::string out;
    std::string err;
};

template <typename Parse>
outcome run(Parse parse, std::initializer_list<const char*> args) {
    std::vector<const char*> argv{"program"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::ostringstream out;
    std::ostringstream err;
    const auto result = parse(static_cast<int>(argv.size()), argv.data(), out, err);
    return {result.exit_code, result.value.has_value(), out.str(), err.str()};
}

// Host names resolve through this stand-in: "db.example" has two addresses, nothing else resolves
// (no test depends on the machine's DNS).
std::vector<endpoint> fake_resolve(std::string_view host, std::uint16_t port, std::error_code& error) {
    if (const auto numeric = endpoint::parse(host, port)) {
        return {*numeric};
    }
    if (host == "db.example") {
        return {*endpoint::parse("::1", port), *endpoint::parse("127.0.0.1", port)};
    }
    error = std::make_error_code(std::errc::host_unreachable);
    return {};
}

outcome server_args(std::initializer_list<const char*> args) {
    return run([](int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
        return server::parse_options(argc, argv, out, err, &fake_resolve);
    }, args);
}
outcome client_args(std::initializer_list<const char*> args) {
    return run([](int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
        return client::parse_options(argc, argv, out, err, &fake_resolve);
    }, args);
}

// A bad argument: exit 2, nothing on stdout, and the first line of stderr names the problem.
void expect_refused(const outcome& o, const std::string& mentions) {
    EXPECT_FALSE(o.parsed);
    EXPECT_EQ(o.exit_code, 2);
    EXPECT_TRUE(o.out.empty()) << o.out;
    const std::string first_line = o.err.substr(0, o.err.find('\n'));
    EXPECT_NE(first_line.find(mentions), std::string::npos) << "first line: " << first_line;
}

TEST(ServerOptions, DefaultsFollowTheContract) {
    std::ostringstream out;
    std::ostringstream err;
    const char* argv[] = {"server"};
    const auto r = server::parse_options(1, argv, out, err);
    ASSERT_TRUE(r.value.has_value()) << err.str();
    EXPECT_EQ(r.value->address, endpoint::loopback_v4(0));
    EXPECT_EQ(r.value->mode, server::mode::echo);
    EXPECT_EQ(r.value->workers, 0U);
    EXPECT_EQ(r.value->max_connections, 10'000U);
    EXPECT_EQ(r.value->max_frame, frame_parser::default_max_frame);
    EXPECT_EQ(r.value->idle_timeout, 60s);
    EXPECT_FALSE(r.value->duration.has_value());
}

TEST(ServerOptions, EveryFlagIsRead) {
    std::ostringstream out;
    std::ostringstream err;
    const char* argv[] = {"server", "--host", "::1", "--port", "7000", "--mode", "frame", "--workers", "3",
                          "--max-connections", "5", "--max-frame", "65536", "--idle-timeout", "1.5", "--duration", "2"};
    const auto r = server::parse_options(static_cast<int>(std::size(argv)), argv, out, err);
    ASSERT_TRUE(r.value.has_value()) << err.str();
    EXPECT_EQ(r.value->address, *endpoint::parse("::1", 7000));
    EXPECT_EQ(r.value->mode, server::mode::frame);
    EXPECT_EQ(r.value->workers, 3U);
    EXPECT_EQ(r.value->max_connections, 5U);
    EXPECT_EQ(r.value->max_frame, 65536U);
    EXPECT_EQ(r.value->idle_timeout, 1500ms);
    EXPECT_EQ(r.value->duration, std::optional<std::chrono::milliseconds>(2000ms));
}

TEST(ServerOptions, HelpExitsZeroWithTheUsageOnStdout) {
    const outcome o = server_args({"--help"});
    EXPECT_FALSE(o.parsed);
    EXPECT_EQ(o.exit_code, 0);
    for (const char* flag : {"--host", "--port", "--mode", "--workers", "--max-connections", "--max-frame",
                             "--idle-timeout", "--duration", "--help"}) {
        EXPECT_NE(o.out.find(flag), std::string::npos) << flag;
    }
}

TEST(FrontEndOptions, AHostNameTakesItsFirstAddress) {
    std::ostringstream out;
    std::ostringstream err;
    const char* server_argv[] = {"server", "--host", "db.example", "--port", "7000"};
    const auto s = server::parse_options(5, server_argv, out, err, &fake_resolve);
    ASSERT_TRUE(s.value.has_value()) << err.str();
    EXPECT_EQ(s.value->address, *endpoint::parse("::1", 7000));
    const char* client_argv[] = {"client", "--host", "db.example", "--port", "7001"};
    const auto c = client::parse_options(5, client_argv, out, err, &fake_resolve);
    ASSERT_TRUE(c.value.has_value()) << err.str();
    EXPECT_EQ(c.value->server, *endpoint::parse("::1", 7001));
}

TEST(ServerOptions, BadInputIsRefused) {
    expect_refused(server_args({"--port", "65536"}), "--port");
    expect_refused(server_args({"--port", "-1"}), "--port");
    expect_refused(server_args({"--port", "80x"}), "--port");
    expect_refused(server_args({"--host", "example.com"}), "--host");  // does not resolve (see fake_resolve)
    expect_refused(server_args({"--mode", "chat"}), "--mode");
    expect_refused(server_args({"--max-frame", "1073741825"}), "--max-frame");
    expect_refused(server_args({"--idle-timeout", "-1"}), "--idle-timeout");
    expect_refused(server_args({"--idle-timeout", "nan"}), "--idle-timeout");
    expect_refused(server_args({"--duration", "0"}), "--duration");
    expect_refused(server_args({"--duration", "1e300"}), "--duration");
    expect_refused(server_args({"--workers", "100000"}), "--workers");
    expect_refused(server_args({"--no-such-flag"}), "--no-such-flag");
    expect_refused(server_args({"--port"}), "--port");
    expect_refused(server_args({"stray"}), "stray");
}

TEST(ClientOptions, DefaultsAndFlags) {
    std::ostringstream out;
    std::ostringstream err;
    const char* argv[] = {"client", "--port", "7000", "--connections", "8", "--size", "256", "--pipeline", "4",
                          "--duration", "0.5", "--mode", "frame", "--json"};
    const auto r = client::parse_options(static_cast<int>(std::size(argv)), argv, out, err);
    ASSERT_TRUE(r.value.has_value()) << err.str();
    EXPECT_EQ(r.value->server, endpoint::loopback_v4(7000));
    EXPECT_EQ(r.value->connections, 8U);
    EXPECT_EQ(r.value->size, 256U);
    EXPECT_EQ(r.value->pipeline, 4U);
    EXPECT_EQ(r.value->duration, 500ms);
    EXPECT_EQ(r.value->mode, client::mode::frame);
    EXPECT_TRUE(r.value->json);
}

TEST(ClientOptions, BadInputIsRefused) {
    expect_refused(client_args({"--port", "0"}), "--port");  // the client needs a real port
    expect_refused(client_args({"--port", "7000", "--connections", "0"}), "--connections");
    expect_refused(client_args({"--port", "7000", "--size", "0"}), "--size");
    expect_refused(client_args({"--port", "7000", "--pipeline", "0"}), "--pipeline");
    expect_refused(client_args({"--port", "7000", "--mode", "storm"}), "--mode");
    expect_refused(client_args({"--port", "7000", "--host", "300.1.1.1"}), "--host");
    expect_refused(client_args({"--port", "7000", "--size", "99999999999999999999"}), "--size");
    // Bounded memory: connections x pipeline x size above 1 GiB in flight is refused up front.
    expect_refused(client_args({"--port", "7000", "--connections", "1000", "--pipeline", "100", "--size", "65536"}),
                   "in flight");
}

}  // namespace
}  // namespace wire
