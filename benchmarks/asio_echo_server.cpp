// The baseline: an echo server as Asio users write it (standalone Asio, whose Windows backend is
// IOCP). One session object per connection with a 16 KiB buffer (the engine's default receive
// size), async_read_some then async_write of what arrived, then the next read; one outstanding
// async_accept; io_context::run() on as many threads as the engine has workers.
//
// Asio keeps no statistics, so the calls it makes are derived from what its IOCP backend does
// (asio/detail/impl/win_iocp_socket_service_base.ipp and win_iocp_io_context.ipp, 1.22):
// - async_read_some issues one WSARecv; async_write of at most 16 KiB issues one WSASend (an
//   overlapped send on Windows completes whole, so the composed operation does not loop);
// - Asio does not set FILE_SKIP_COMPLETION_PORT_ON_SUCCESS, so every operation, even one that
//   finished at once, comes back as a packet, and do_one() takes packets one at a time with
//   GetQueuedCompletionStatus: one dequeue call per completion handler.
#include "echo_server.h"

#include <asio.hpp>

#include <array>
#include <atomic>
#include <system_error>
#include <thread>
#include <vector>

namespace wire::bench {

namespace {

struct asio_counters {
    std::atomic<std::uint64_t> connections_open{0};
    std::atomic<std::uint64_t> connections_accepted{0};
    std::atomic<std::uint64_t> bytes_received{0};
    std::atomic<std::uint64_t> reads{0};     // async_read_some started: one WSARecv each
    std::atomic<std::uint64_t> writes{0};    // async_write started: one WSASend each (see above)
    std::atomic<std::uint64_t> handlers{0};  // completion handlers run: one GetQueuedCompletionStatus each

    static void add(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) noexcept {
        c.fetch_add(n, std::memory_order_relaxed);
    }
};

class session : public std::enable_shared_from_this<session> {
public:
    session(asio::ip::tcp::socket socket, asio_counters& counters)
        : socket_(std::move(socket)), counters_(counters) {
        asio_counters::add(counters_.connections_open);
    }
    ~session() { counters_.connections_open.fetch_sub(1, std::memory_order_relaxed); }
    session(const session&) = delete;
    session& operator=(const session&) = delete;

    void start() { read(); }

private:
    // Each pending handler holds a reference: the session (and its socket) goes away with the
    // last one, i.e. when a read or write fails or the peer closes.
    void read() {
        asio_counters::add(counters_.reads);
        socket_.async_read_some(asio::buffer(buffer_), [self = shared_from_this()](const asio::error_code& ec,
                                                                                   std::size_t n) {
            asio_counters::add(self->counters_.handlers);
            if (!ec) {
                asio_counters::add(self->counters_.bytes_received, n);
                self->write(n);
            }
        });
    }

    void write(std::size_t n) {
        asio_counters::add(counters_.writes);
        asio::async_write(socket_, asio::buffer(buffer_.data(), n),
                          [self = shared_from_this()](const asio::error_code& ec, std::size_t /*written*/) {
                              asio_counters::add(self->counters_.handlers);
                              if (!ec) {
                                  self->read();
                              }
                          });
    }

    asio::ip::tcp::socket socket_;
    asio_counters& counters_;
    std::array<char, 16 * 1024> buffer_;  // left uninitialised, as the engine's receive buffer is
};

class asio_echo_server final : public echo_server {
public:
    asio_echo_server(std::uint16_t port, unsigned workers)
        : context_(static_cast<int>(workers)),
          acceptor_(context_, asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), port)) {
        accept();
        threads_.reserve(workers);
        for (unsigned i = 0; i < workers; ++i) {
            threads_.emplace_back([this] { context_.run(); });
        }
    }
    ~asio_echo_server() override { stop(); }
    asio_echo_server(const asio_echo_server&) = delete;
    asio_echo_server& operator=(const asio_echo_server&) = delete;

    [[nodiscard]] std::uint16_t port() const override { return port_; }

    [[nodiscard]] counter_list counters() const override {
        const auto get = [](const std::atomic<std::uint64_t>& c) { return c.load(std::memory_order_relaxed); };
        const std::uint64_t reads = get(counters_.reads);
        const std::uint64_t writes = get(counters_.writes);
        const std::uint64_t handlers = get(counters_.handlers);
        return {
            {"connections_open", get(counters_.connections_open)},
            {"connections_accepted", get(counters_.connections_accepted)},
            {"bytes_received", get(counters_.bytes_received)},
            {"receive_calls", reads},
            {"send_calls", writes},
            {"dequeue_calls", handlers},
            {"completions_dequeued", handlers},
            {"completions_inline", 0},
            {"calls_estimated", 1},
        };
    }

    void stop() noexcept override {
        if (stopped_.exchange(true)) {
            return;
        }
        // run() returns on every thread; the sessions' pending handlers are destroyed with the
        // io_context, which closes their sockets.
        context_.stop();
        for (auto& t : threads_) {
            t.join();
        }
        threads_.clear();
        asio::error_code ignored;
        acceptor_.close(ignored);
    }

private:
    void accept() {
        acceptor_.async_accept([this](const asio::error_code& ec, asio::ip::tcp::socket socket) {
            asio_counters::add(counters_.handlers);
            if (ec == asio::error::operation_aborted) {
                return;
            }
            if (!ec) {
                asio_counters::add(counters_.connections_accepted);
                // The engine sets TCP_NODELAY on every connection; without it Nagle and delayed ACKs
                // would hold pipelined echoes back and measure the TCP stack, not Asio.
                asio::error_code ignored;
                socket.set_option(asio::ip::tcp::no_delay(true), ignored);
                std::make_shared<session>(std::move(socket), counters_)->start();
            }
            accept();  // a failed accept (e.g. the client reset first) is routine: keep accepting
        });
    }

    asio::io_context context_;
    asio::ip::tcp::acceptor acceptor_;
    std::uint16_t port_ = acceptor_.local_endpoint().port();
    asio_counters counters_;
    std::vector<std::thread> threads_;
    std::atomic<bool> stopped_{false};
};

}  // namespace

std::unique_ptr<echo_server> make_asio_echo_server(std::uint16_t port, unsigned workers) {
    return std::make_unique<asio_echo_server>(port, workers);
}

}  // namespace wire::bench
