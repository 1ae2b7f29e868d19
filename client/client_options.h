#pragma once
// client.exe's command line: the flags of the front-end contract, parsed and validated.
#include <wire/endpoint.h>

#include <functional>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wire::client {

enum class mode {
    echo,   // a plain byte stream: messages of --size bytes, echoed back by any echo server
    frame,  // each message is a frame (4-byte little-endian length + payload), expected back unchanged
    churn,  // each of --connections loops: connect, one exchange, disconnect, again
};

[[nodiscard]] std::string_view to_string(mode m) noexcept;

struct options {
    endpoint server;                  // --host and --port
    std::size_t connections = 16;
    std::size_t size = 64;            // payload bytes per message
    std::size_t pipeline = 1;         // messages in flight per connection (echo, frame)
    std::chrono::milliseconds duration{5000};
    client::mode mode = client::mode::echo;
    bool json = false;
    bool udp = false;  // --udp: numbered datagrams from `connections` UDP sockets (echo only)
    // --tls: TLS (wire::tls, SChannel) on every connection, in every TCP mode.
    struct tls_settings {
        bool verify = true;             // false with --insecure: any certificate is accepted
        std::string ca_file;            // --ca: a root to trust besides the system's (PEM or DER)
        std::string server_name;        // --server-name, else the --host text: SNI and the name checked
        std::vector<std::string> alpn;  // --alpn: offered, most preferred first
    };
    std::optional<tls_settings> tls;
};

// Limits, checked with a clear message. They bound the client's own memory: payloads in flight
// sit in send queues until they come back.
inline constexpr std::size_t max_connections = 50'000;
inline constexpr std::size_t max_size = 64U << 20;        // echo and churn
inline constexpr std::size_t max_frame_size = 16U << 20;  // frame mode (servers cap frames too: 1 MiB by default)
inline constexpr std::size_t max_pipeline = 10'000;
inline constexpr std::size_t max_bytes_in_flight = 1U << 30;
// --udp: each datagram carries its 8-byte number, and must fit one UDP datagram.
inline constexpr std::size_t min_datagram_size = 8;
inline constexpr std::size_t max_datagram_size = 65'507;  // IPv4's largest UDP payload  // connections x pipeline x size, all connections together

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

}  // namespace wire::client
