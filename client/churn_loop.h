#pragma once
// churn mode: each loop connects, sends one message of --size bytes, checks the reply, closes
// gracefully, and starts over until the run stops. Measures the whole connection life cycle:
// connect, accept, exchange, close on both sides (with --tls the handshake too).
#include <wire/connection.h>

#include "payload_stream.h"
#include "run_state.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

namespace wire::client {

class churn_loop : public std::enable_shared_from_this<churn_loop> {
public:
    churn_loop(run_state& run, std::uint64_t index) noexcept : run_(run), index_(index) {}

    // Starts the next cycle, or ends the loop (reporting it finished) once the run is stopping.
    // Called by main for the first cycle and from on_close for every later one.
    void next() noexcept;

    [[nodiscard]] run_state& run() noexcept { return run_; }
    [[nodiscard]] std::uint64_t index() const noexcept { return index_; }

private:
    run_state& run_;
    const std::uint64_t index_;
    std::uint64_t iteration_ = 0;  // only touched by next(), which never runs twice at once
};

// One cycle's connection. Its callbacks run one at a time (a single exchange, no concurrent
// on_drained), so it needs no lock.
class churn_handler final : public connection_handler {
public:
    churn_handler(std::shared_ptr<churn_loop> loop, std::uint64_t iteration);

    // This cycle's message, sent with the connect. Throws std::bad_alloc only.
    [[nodiscard]] std::vector<std::byte> first_message();
    // --tls: the message goes once the handshake is done (on_open), not with the connect.
    void send_on_open(std::vector<std::byte> message) noexcept;

    void on_open(connection& c) override;
    void on_data(connection& c, gsl::span<const std::byte> data) override;
    void on_close(connection& c, std::error_code reason) override;

private:
    using clock = std::chrono::steady_clock;

    std::shared_ptr<churn_loop> loop_;
    const std::uint64_t iteration_;
    payload_stream outgoing_;
    payload_stream expected_;
    clock::time_point sent_at_{};
    std::size_t received_ = 0;
    bool intact_ = true;
    bool opened_ = false;
    bool done_ = false;  // the whole reply arrived and the close was requested
    std::vector<std::byte> deferred_;  // --tls: this cycle's message until on_open
};

}  // namespace wire::client
