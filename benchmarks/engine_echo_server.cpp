// The engine under test, serving echo the way its users would write it: default engine options,
// every received span handed straight to send(), receiving paused while the send queue is full.
#include "echo_server.h"
#include "win32.h"

#include <wire/tls.h>
#include <wire/wire.h>

#include <atomic>
#include <cstdlib>
#include <string_view>
#include <string>
#include <thread>
#include <vector>

namespace wire::bench {

namespace {

// Which worker runs a connection's callbacks: the one measurement the engine's own statistics
// lack and the bimodal rows need (benchmarks/PERF_NOTES.md). A "switch" is a data callback on
// another thread than the connection's previous one: its receive completed on, or was handed
// through the port to, the other worker.
struct placement_counters {
    std::atomic<std::uint64_t> data_callbacks{0};
    std::atomic<std::uint64_t> worker_switches{0};
    // Accepted connections that closed without opening: under TLS, failed handshakes. The last
    // one's reason (for TLS a SECURITY_STATUS such as 0x80090302, SEC_E_UNSUPPORTED_FUNCTION, which
    // Wine 8 answers every server handshake with), for tools/bench.py's probe of the TLS server.
    std::atomic<std::uint64_t> never_opened{0};
    std::atomic<std::uint64_t> last_open_failure{0};
};

class echo_handler final : public connection_handler {
public:
    explicit echo_handler(placement_counters& placement) noexcept : placement_(placement) {}

    void on_open(connection&) override { opened_ = true; }
    void on_close(connection&, std::error_code reason) override {
        if (!opened_) {
            placement_.never_opened.fetch_add(1, std::memory_order_relaxed);
            placement_.last_open_failure.store(static_cast<std::uint32_t>(reason.value()), std::memory_order_relaxed);
        }
    }

    void on_data(connection& c, gsl::span<const std::byte> data) override {
        const std::thread::id me = std::this_thread::get_id();
        placement_.data_callbacks.fetch_add(1, std::memory_order_relaxed);
        if (last_thread_ != std::thread::id() && last_thread_ != me) {
            placement_.worker_switches.fetch_add(1, std::memory_order_relaxed);
        }
        last_thread_ = me;  // callbacks of one connection never overlap: no lock
        if (c.send(data) == error::send_queue_full) {
            // Backpressure: keep this chunk and stop reading until the queue drains, so a peer that
            // does not read its echoes cannot make the server buffer without bound.
            pending_.assign(data.begin(), data.end());
            c.pause_receiving();
        }
    }
    void on_drained(connection& c) override {
        if (!pending_.empty() && !c.send(pending_)) {
            pending_.clear();
            c.resume_receiving();
        }
    }

private:
    placement_counters& placement_;
    std::thread::id last_thread_;
    std::vector<std::byte> pending_;
    bool opened_ = false;
};

class engine_echo_server final : public echo_server {
public:
    engine_echo_server(std::uint16_t port, unsigned workers) : engine_(options_for(workers)) {
        listener_ = engine_.listen(endpoint::loopback_v4(port),
                                   [this] { return std::make_unique<echo_handler>(placement_); });
    }
    // With TLS: the same server, accepted through tls::listen.
    engine_echo_server(std::uint16_t port, unsigned workers, const tls::server_context& context)
        : engine_(options_for(workers)) {
        listener_ = tls::listen(engine_, endpoint::loopback_v4(port),
                                [this] { return std::make_unique<echo_handler>(placement_); }, context);
    }
    ~engine_echo_server() override { stop(); }
    engine_echo_server(const engine_echo_server&) = delete;
    engine_echo_server& operator=(const engine_echo_server&) = delete;

    [[nodiscard]] std::uint16_t port() const override { return listener_.local_endpoint().port(); }

    [[nodiscard]] counter_list counters() const override {
        const statistics s = engine_.stats();
        return {
            {"connections_open", s.connections_open},
            {"connections_accepted", s.connections_accepted},
            {"bytes_received", s.bytes_received},
            {"bytes_sent", s.bytes_sent},
            {"receive_calls", s.receive_calls},
            {"send_calls", s.send_calls},
            {"dequeue_calls", s.dequeue_calls},
            {"completions_dequeued", s.completions_dequeued},
            {"completions_inline", s.completions_inline},
            {"sends_refused", s.sends_refused},
            {"operations_pending", s.operations_pending},
            {"receive_buffers_held", s.receive_buffers_held},
            {"receives_parked", s.receives_parked},
            {"data_callbacks", placement_.data_callbacks.load(std::memory_order_relaxed)},
            {"worker_switches", placement_.worker_switches.load(std::memory_order_relaxed)},
            {"connections_never_opened", placement_.never_opened.load(std::memory_order_relaxed)},
            {"last_open_failure", placement_.last_open_failure.load(std::memory_order_relaxed)},
            {"calls_estimated", 0},
        };
    }

    void stop() noexcept override {
        listener_.close();
        engine_.stop();
    }

private:
    static engine_options options_for(unsigned workers) {
        engine_options options;  // the defaults a user starts from; only the pool size is pinned
        options.worker_threads = workers;
        // For A/B runs of the receive strategies (benchmarks/README.md): WIRE_BENCH_RECEIVE=
        // adaptive | buffered | zero_byte, inherited by this server process from the benchmark's.
        char mode[16] = {};
        if (::GetEnvironmentVariableA("WIRE_BENCH_RECEIVE", mode, sizeof(mode)) > 0) {
            const std::string_view m(mode);
            options.receive = m == "buffered"    ? receive_mode::buffered
                              : m == "zero_byte" ? receive_mode::zero_byte
                                                 : receive_mode::adaptive;
        }
        // For A/B runs of the inline cap: WIRE_BENCH_MAX_INLINE=N (engine_options::max_inline_completions).
        char cap[16] = {};
        if (::GetEnvironmentVariableA("WIRE_BENCH_MAX_INLINE", cap, sizeof(cap)) > 0) {
            options.max_inline_completions = static_cast<unsigned>(std::strtoul(cap, nullptr, 10));
        }
        return options;
    }

    placement_counters placement_;  // before engine_: the handlers the engine owns point here
    engine engine_;
    listener listener_;
};

}  // namespace

std::unique_ptr<echo_server> make_engine_echo_server(std::uint16_t port, unsigned workers) {
    return std::make_unique<engine_echo_server>(port, workers);
}

std::unique_ptr<echo_server> make_engine_tls_echo_server(std::uint16_t port, unsigned workers,
                                                         const std::string& pfx_path, const std::string& password) {
    // Credentials are acquired once; every accepted connection shares them.
    // The defaults a user starts from besides the certificate: no ALPN, the default limits.
    const tls::server_context context(
        tls::server_options{.certificate = tls::credential::from_pfx_file(pfx_path, password), .alpn = {}, .limits = {}});
    return std::make_unique<engine_echo_server>(port, workers, context);
}

}  // namespace wire::bench
