// The engine's UDP echo, as its users would write it (server.exe --udp does the same): one
// datagram_socket with default datagram_options, each datagram sent back to its sender from
// on_datagram. A refused send (send_queue_full) drops the echo, as the network may; the driver
// counts it lost.
#include "echo_server.h"

#include <wire/wire.h>

#include <atomic>

namespace wire::bench {

namespace {

class udp_echo_handler final : public datagram_handler {
public:
    explicit udp_echo_handler(std::atomic<std::uint64_t>& refused) noexcept : refused_(refused) {}

    void on_datagram(datagram_socket& s, const endpoint& from, gsl::span<const std::byte> data) override {
        if (s.send_to(from, data)) {
            refused_.fetch_add(1, std::memory_order_relaxed);
        }
    }

private:
    std::atomic<std::uint64_t>& refused_;
};

class engine_udp_echo_server final : public echo_server {
public:
    engine_udp_echo_server(std::uint16_t port, unsigned workers) : engine_(options_for(workers)) {
        socket_ = engine_.open_datagram(endpoint::loopback_v4(port), std::make_unique<udp_echo_handler>(refused_));
    }
    ~engine_udp_echo_server() override { stop(); }
    engine_udp_echo_server(const engine_udp_echo_server&) = delete;
    engine_udp_echo_server& operator=(const engine_udp_echo_server&) = delete;

    [[nodiscard]] std::uint16_t port() const override { return socket_.local_endpoint().port(); }

    // The socket's own counters for its calls; dequeues come from the engine (one port, one socket).
    [[nodiscard]] counter_list counters() const override {
        const statistics e = engine_.stats();
        const datagram_statistics s = socket_.stats();
        return {
            {"connections_open", 0},
            {"connections_accepted", 0},
            {"bytes_received", s.bytes_received},
            {"bytes_sent", s.bytes_sent},
            {"datagrams_received", s.datagrams_received},
            {"datagrams_sent", s.datagrams_sent},
            {"receive_calls", s.receive_calls},
            {"send_calls", s.send_calls},
            {"dequeue_calls", e.dequeue_calls},
            {"completions_dequeued", e.completions_dequeued},
            {"completions_inline", s.completions_inline},
            {"sends_refused", refused_.load(std::memory_order_relaxed)},
            {"send_failures", s.send_failures},
            {"receive_errors", s.receive_errors},
            {"calls_estimated", 0},
        };
    }

    void stop() noexcept override {
        socket_.close();
        engine_.stop();
    }

private:
    static engine_options options_for(unsigned workers) {
        engine_options options;  // the defaults a user starts from; only the pool size is pinned
        options.worker_threads = workers;
        return options;
    }

    std::atomic<std::uint64_t> refused_{0};  // before engine_: the handler the engine owns points here
    engine engine_;
    datagram_socket socket_;
};

}  // namespace

std::unique_ptr<echo_server> make_engine_udp_echo_server(std::uint16_t port, unsigned workers) {
    return std::make_unique<engine_udp_echo_server>(port, workers);
}

}  // namespace wire::bench
