#pragma once
// The side under test: an echo server. The engine-based and the Asio-based one sit behind this
// interface so that the serve mode (serve.cpp) drives both alike; each lives in its own file.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace wire::bench {

// Named counters, printed by the serve mode as "key=value" pairs.
using counter_list = std::vector<std::pair<std::string, std::uint64_t>>;

class echo_server {
public:
    virtual ~echo_server() = default;

    // The bound port on 127.0.0.1 (the real one when 0 was asked for).
    [[nodiscard]] virtual std::uint16_t port() const = 0;

    // Both servers report connections_open, connections_accepted, bytes_received and the calls
    // they make per operation: receive_calls, send_calls, dequeue_calls, completions_dequeued,
    // completions_inline. The engine's come from wire::engine::stats() (counted where the calls
    // are made); Asio's are derived from handler counts (see asio_echo_server.cpp) and carry
    // calls_estimated=1.
    [[nodiscard]] virtual counter_list counters() const = 0;

    // Stops accepting and serving; idempotent. Joins the server's threads.
    virtual void stop() noexcept = 0;
};

// `workers` threads dequeue completions in both: the engine's worker pool, and as many threads
// calling io_context::run(). Both listen on 127.0.0.1:`port` (0: any free port).
// Throw std::system_error when the port cannot be bound.
[[nodiscard]] std::unique_ptr<echo_server> make_engine_echo_server(std::uint16_t port, unsigned workers);
[[nodiscard]] std::unique_ptr<echo_server> make_asio_echo_server(std::uint16_t port, unsigned workers);
// The engine's echo server behind wire::tls (serve kind engine-tls): the same handler, the same
// engine options, accepted through tls::listen with the certificate and key of a PKCS#12 file.
// Also throws what tls::credential and tls::server_context throw (std::system_error).
[[nodiscard]] std::unique_ptr<echo_server> make_engine_tls_echo_server(std::uint16_t port, unsigned workers,
                                                                       const std::string& pfx_path,
                                                                       const std::string& password);
// UDP echo on one socket bound to 127.0.0.1:`port` (serve kinds engine_udp and asio_udp): each
// datagram goes back to its sender. No connections: connections_open and connections_accepted read 0.
[[nodiscard]] std::unique_ptr<echo_server> make_engine_udp_echo_server(std::uint16_t port, unsigned workers);
[[nodiscard]] std::unique_ptr<echo_server> make_asio_udp_echo_server(std::uint16_t port, unsigned workers);

}  // namespace wire::bench
