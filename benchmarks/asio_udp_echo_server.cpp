// The baseline UDP echo, as Asio's own example (async_udp_echo_server) writes it: one
// asio::ip::udp::socket, one async_receive_from outstanding, re-armed once the async_send_to of
// the reply has completed; io_context::run() on as many threads as the engine has workers.
//
// Calls are estimated from handler counts as for TCP (asio_echo_server.cpp): one WSARecvFrom per
// async_receive_from, one WSASendTo per async_send_to, one GetQueuedCompletionStatus per handler.
#include "echo_server.h"

#include <asio.hpp>

#include <array>
#include <atomic>
#include <system_error>
#include <thread>
#include <vector>

namespace wire::bench {

namespace {

class asio_udp_echo_server final : public echo_server {
public:
    asio_udp_echo_server(std::uint16_t port, unsigned workers)
        : context_(static_cast<int>(workers)),
          socket_(context_, asio::ip::udp::endpoint(asio::ip::address_v4::loopback(), port)) {
        receive();
        threads_.reserve(workers);
        for (unsigned i = 0; i < workers; ++i) {
            threads_.emplace_back([this] { context_.run(); });
        }
    }
    ~asio_udp_echo_server() override { stop(); }
    asio_udp_echo_server(const asio_udp_echo_server&) = delete;
    asio_udp_echo_server& operator=(const asio_udp_echo_server&) = delete;

    [[nodiscard]] std::uint16_t port() const override { return port_; }

    [[nodiscard]] counter_list counters() const override {
        const auto get = [](const std::atomic<std::uint64_t>& c) { return c.load(std::memory_order_relaxed); };
        const std::uint64_t handlers = get(handlers_);
        return {
            {"connections_open", 0},
            {"connections_accepted", 0},
            {"bytes_received", get(bytes_received_)},
            {"receive_calls", get(receives_)},
            {"send_calls", get(sends_)},
            {"dequeue_calls", handlers},
            {"completions_dequeued", handlers},
            {"completions_inline", 0},
            {"receive_errors", get(receive_errors_)},
            {"calls_estimated", 1},
        };
    }

    void stop() noexcept override {
        if (stopped_.exchange(true)) {
            return;
        }
        context_.stop();
        for (auto& t : threads_) {
            t.join();
        }
        threads_.clear();
        asio::error_code ignored;
        socket_.close(ignored);
    }

private:
    static void add(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) noexcept {
        c.fetch_add(n, std::memory_order_relaxed);
    }

    // One receive at a time, so the buffer and the sender's address are never shared.
    void receive() {
        add(receives_);
        socket_.async_receive_from(asio::buffer(buffer_), sender_, [this](const asio::error_code& ec, std::size_t n) {
            add(handlers_);
            if (ec == asio::error::operation_aborted) {
                return;
            }
            if (ec) {
                // Windows reports an ICMP "port unreachable" (a client that went away) on the next
                // receive (WSAECONNRESET); like any other receive error it must not end the server.
                add(receive_errors_);
                receive();
                return;
            }
            add(bytes_received_, n);
            send(n);
        });
    }

    void send(std::size_t n) {
        add(sends_);
        socket_.async_send_to(asio::buffer(buffer_.data(), n), sender_,
                              [this](const asio::error_code& ec, std::size_t /*sent*/) {
                                  add(handlers_);
                                  if (ec != asio::error::operation_aborted) {
                                      receive();  // a failed send loses one echo, as the network may
                                  }
                              });
    }

    asio::io_context context_;
    asio::ip::udp::socket socket_;
    std::uint16_t port_ = socket_.local_endpoint().port();
    asio::ip::udp::endpoint sender_;
    std::array<char, 64 * 1024> buffer_;  // the largest datagram, as the engine's default max_datagram_size
    std::atomic<std::uint64_t> bytes_received_{0};
    std::atomic<std::uint64_t> receives_{0};  // async_receive_from started: one WSARecvFrom each
    std::atomic<std::uint64_t> sends_{0};     // async_send_to started: one WSASendTo each
    std::atomic<std::uint64_t> handlers_{0};  // completion handlers run: one GetQueuedCompletionStatus each
    std::atomic<std::uint64_t> receive_errors_{0};
    std::vector<std::thread> threads_;
    std::atomic<bool> stopped_{false};
};

}  // namespace

std::unique_ptr<echo_server> make_asio_udp_echo_server(std::uint16_t port, unsigned workers) {
    return std::make_unique<asio_udp_echo_server>(port, workers);
}

}  // namespace wire::bench
