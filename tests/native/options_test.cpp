// The front-ends' command-line parsers (server/server_options.cpp, client/client_options.cpp):
// the contract's flags and defaults, and bad input refused with exit code 2 and one error line.
// Built natively under AddressSanitizer and UndefinedBehaviorSanitizer, with posix_endpoint.cpp
// standing in for the engine's Winsock endpoint; under Wine, tests/frontends drives the same parsers
// through server.exe and client.exe.
#include "client_options.h"
#include "server_options.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
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

// A file that exists, for --cert and --ca (the parsers only check that it is there).
class existing_file {
public:
    existing_file() : path_((std::filesystem::temp_directory_path() / "wire_options_test.bin").string()) {
        std::ofstream(path_) << "not read by the parser";
    }
    existing_file(const existing_file&) = delete;
    existing_file& operator=(const existing_file&) = delete;
    ~existing_file() {
        std::error_code ignored;
        std::filesystem::remove(path_, ignored);
    }
    [[nodiscard]] const char* path() const noexcept { return path_.c_str(); }

private:
    std::string path_;
};

TEST(ServerOptions, TlsIsOffUnlessAsked) {
    const char* argv[] = {"server"};
    std::ostringstream out;
    std::ostringstream err;
    const auto r = server::parse_options(1, argv, out, err, &fake_resolve);
    ASSERT_TRUE(r.value.has_value()) << err.str();
    EXPECT_FALSE(r.value->tls.has_value());
}

TEST(ServerOptions, TlsFlagsAreRead) {
    const existing_file pfx;
    std::ostringstream out;
    std::ostringstream err;
    const char* from_file[] = {"server", "--tls", "--cert", pfx.path(), "--cert-password", "secret", "--alpn", "h2,http/1.1"};
    const auto f = server::parse_options(static_cast<int>(std::size(from_file)), from_file, out, err, &fake_resolve);
    ASSERT_TRUE(f.value.has_value()) << err.str();
    ASSERT_TRUE(f.value->tls.has_value());
    EXPECT_EQ(f.value->tls->cert_file, pfx.path());
    EXPECT_EQ(f.value->tls->cert_password, "secret");
    EXPECT_TRUE(f.value->tls->cert_thumbprint.empty());
    EXPECT_EQ(f.value->tls->alpn, (std::vector<std::string>{"h2", "http/1.1"}));

    const char* from_store[] = {"server", "--tls", "--cert-thumbprint",
                                "0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9:0a:1b:2c:3d", "--mode", "frame"};
    const auto s = server::parse_options(static_cast<int>(std::size(from_store)), from_store, out, err, &fake_resolve);
    ASSERT_TRUE(s.value.has_value()) << err.str();
    ASSERT_TRUE(s.value->tls.has_value());
    EXPECT_TRUE(s.value->tls->cert_file.empty());
    EXPECT_EQ(s.value->tls->cert_thumbprint, "0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9:0a:1b:2c:3d");
    EXPECT_TRUE(s.value->tls->alpn.empty());
    EXPECT_EQ(s.value->mode, server::mode::frame);
}

TEST(ServerOptions, TlsMisuseIsRefused) {
    const existing_file pfx;
    const std::string thumbprint(40, 'a');
    // A certificate flag without --tls.
    expect_refused(server_args({"--cert", pfx.path()}), "--cert");
    expect_refused(server_args({"--cert-thumbprint", thumbprint.c_str()}), "--cert-thumbprint");
    expect_refused(server_args({"--cert-password", "x"}), "--cert-password");
    expect_refused(server_args({"--alpn", "h2"}), "--alpn");
    // --tls with no certificate, with both sources, over UDP.
    expect_refused(server_args({"--tls"}), "--tls");
    expect_refused(server_args({"--tls", "--cert", pfx.path(), "--cert-thumbprint", thumbprint.c_str()}), "--cert");
    expect_refused(server_args({"--tls", "--udp", "--cert", pfx.path()}), "--udp");
    // The file must be there; a thumbprint is 40 hex digits; a password only goes with a file.
    expect_refused(server_args({"--tls", "--cert", "/no/such/file.pfx"}), "/no/such/file.pfx");
    expect_refused(server_args({"--tls", "--cert", ""}), "--cert");
    expect_refused(server_args({"--tls", "--cert-thumbprint", "abc"}), "--cert-thumbprint");
    expect_refused(server_args({"--tls", "--cert-thumbprint", (thumbprint + "0").c_str()}), "--cert-thumbprint");
    expect_refused(server_args({"--tls", "--cert-thumbprint", (thumbprint.substr(1) + "g").c_str()}), "--cert-thumbprint");
    expect_refused(server_args({"--tls", "--cert-thumbprint", thumbprint.c_str(), "--cert-password", "x"}),
                   "--cert-password");
    // ALPN names are 1 to 255 bytes.
    expect_refused(server_args({"--tls", "--cert", pfx.path(), "--alpn", "h2,"}), "--alpn");
    expect_refused(server_args({"--tls", "--cert", pfx.path(), "--alpn", ""}), "--alpn");
    expect_refused(server_args({"--tls", "--cert", pfx.path(), "--alpn", std::string(256, 'p').c_str()}), "--alpn");
}

TEST(ClientOptions, TlsFlagsAreRead) {
    const existing_file ca;
    std::ostringstream out;
    std::ostringstream err;
    const char* plain[] = {"client", "--port", "7000"};
    const auto p = client::parse_options(3, plain, out, err, &fake_resolve);
    ASSERT_TRUE(p.value.has_value()) << err.str();
    EXPECT_FALSE(p.value->tls.has_value());

    // The server name defaults to the --host text, not to the address it resolves to.
    const char* by_name[] = {"client", "--host", "db.example", "--port", "7000", "--tls", "--ca", ca.path()};
    const auto n = client::parse_options(static_cast<int>(std::size(by_name)), by_name, out, err, &fake_resolve);
    ASSERT_TRUE(n.value.has_value()) << err.str();
    ASSERT_TRUE(n.value->tls.has_value());
    EXPECT_TRUE(n.value->tls->verify);
    EXPECT_EQ(n.value->tls->ca_file, ca.path());
    EXPECT_EQ(n.value->tls->server_name, "db.example");
    EXPECT_TRUE(n.value->tls->alpn.empty());

    const char* all[] = {"client", "--port", "7000", "--tls", "--insecure", "--server-name", "localhost",
                         "--alpn", "h2,http/1.1", "--mode", "churn"};
    const auto a = client::parse_options(static_cast<int>(std::size(all)), all, out, err, &fake_resolve);
    ASSERT_TRUE(a.value.has_value()) << err.str();
    ASSERT_TRUE(a.value->tls.has_value());
    EXPECT_FALSE(a.value->tls->verify);
    EXPECT_TRUE(a.value->tls->ca_file.empty());
    EXPECT_EQ(a.value->tls->server_name, "localhost");
    EXPECT_EQ(a.value->tls->alpn, (std::vector<std::string>{"h2", "http/1.1"}));
    EXPECT_EQ(a.value->mode, client::mode::churn);
}

TEST(ClientOptions, TlsMisuseIsRefused) {
    const existing_file ca;
    expect_refused(client_args({"--port", "7000", "--insecure"}), "--insecure");
    expect_refused(client_args({"--port", "7000", "--ca", ca.path()}), "--ca");
    expect_refused(client_args({"--port", "7000", "--server-name", "localhost"}), "--server-name");
    expect_refused(client_args({"--port", "7000", "--alpn", "h2"}), "--alpn");
    expect_refused(client_args({"--port", "7000", "--tls", "--udp"}), "--udp");
    expect_refused(client_args({"--port", "7000", "--tls", "--ca", "/no/such/ca.pem"}), "/no/such/ca.pem");
    expect_refused(client_args({"--port", "7000", "--tls", "--insecure", "--ca", ca.path()}), "--insecure");
    expect_refused(client_args({"--port", "7000", "--tls", "--server-name", ""}), "--server-name");
    expect_refused(client_args({"--port", "7000", "--tls", "--alpn", "h2,,x"}), "--alpn");
}

}  // namespace
}  // namespace wire
