#pragma once
// server.exe's command line: the flags of the front-end contract, parsed and validated.
#include <wire/endpoint.h>

#include <functional>
#include <wire/frame_parser.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wire::server {

enum class mode {
    echo,     // every byte received is sent back in order
    discard,  // bytes are read and dropped
    frame,    // 4-byte little-endian length + payload; each frame is sent back unchanged
};

[[nodiscard]] std::string_view to_string(mode m) noexcept;

struct options {
    endpoint address = endpoint::loopback_v4(0);  // --host, --port (0: any free port)
    server::mode mode = server::mode::echo;
    unsigned workers = 0;                          // 0: one per logical processor
    std::size_t max_connections = 10'000;
    std::uint32_t max_frame = frame_parser::default_max_frame;
    std::chrono::milliseconds idle_timeout{0};     // 0: never
    std::optional<std::chrono::milliseconds> duration;  // none: until Ctrl+C
    bool udp = false;  // --udp: echo or discard datagrams on one UDP socket instead of TCP
    // --tls: TLS (wire::tls, SChannel) on the TCP listener. Exactly one of the certificate's
    // sources is set.
    struct tls_settings {
        std::string cert_file;          // --cert: a PKCS#12 file (.pfx / .p12)...
        std::string cert_password;      // ...and its password (--cert-password)
        std::string cert_thumbprint;    // --cert-thumbprint: SHA-1, from the CurrentUser\MY store
        std::vector<std::string> alpn;  // --alpn: protocols, most preferred first
    };
    std::optional<tls_settings> tls;
};

// Upper bound of --max-frame: a connection may buffer this much of a frame, so it stays well
// below what a server with many connections could afford.
inline constexpr std::uint32_t max_frame_limit = 1U << 30;

// Either options to run with, or the exit code to leave with: 0 after --help (printed to
// `out`), 2 after a bad argument (one error line, then the usage, on `err`).
struct parse_result {
    std::optional<options> value;
    int exit_code = 0;
};

// Turns --host into addresses (a name is looked up; see endpoint::resolve). Replaceable in tests.
using host_resolver = std::function<std::vector<endpoint>(std::string_view host, std::uint16_t port, std::error_code& error)>;

[[nodiscard]] parse_result parse_options(int argc, const char* const* argv, std::ostream& out, std::ostream& err,
                                         const host_resolver& resolve = &endpoint::resolve);

}  // namespace wire::server
