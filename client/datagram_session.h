#pragma once
// --udp: one UDP socket that keeps --pipeline numbered datagrams of --size bytes in flight to the
// server, verifies every reply from its number, and declares a datagram lost when no reply came
// within the loss timeout (then sends a new one in its place).
//
// A datagram is its 8-byte number (masked with the socket's key) followed by pseudo-random bytes
// derived from the key and the number: a reply is recognised and checked without keeping a copy,
// and a datagram from another socket or source fails the check (a mismatch).
//
// The session is shared by the handler the engine owns and by the run loop; a mutex guards it
// because the socket's receives complete on several workers at once.
#include <wire/datagram.h>

#include "run_state.h"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace wire::client {

class datagram_session {
public:
    using clock = std::chrono::steady_clock;
    // Unanswered this long: lost. Far above a loaded round trip under Wine (about 1 ms).
    static constexpr std::chrono::seconds loss_timeout{1};

    datagram_session(run_state& run, std::uint64_t index);

    [[nodiscard]] static std::unique_ptr<datagram_handler> make_handler(std::shared_ptr<datagram_session> session);

    // Sends the first window on `socket`.
    void start(const datagram_socket& socket);
    // Declares what waited longer than loss_timeout lost; replaces it unless the run is stopping.
    void expire(clock::time_point now);
    // Whether nothing is awaited any more.
    [[nodiscard]] bool idle();
    // End of the run: whatever is still awaited is lost.
    void abandon();
    [[nodiscard]] std::uint64_t lost();

    void received(const endpoint& from, gsl::span<const std::byte> data);
    void truncated(const endpoint& from);
    void closed(std::error_code reason);

private:
    // With mutex_ held.
    void send_next(clock::time_point now);
    [[nodiscard]] bool verify(std::uint64_t number, gsl::span<const std::byte> data) const;
    [[nodiscard]] std::uint64_t seed(std::uint64_t number) const noexcept;

    run_state& run_;
    const std::uint64_t index_;
    const std::uint64_t key_;
    const std::size_t size_;
    const std::size_t depth_;

    std::mutex mutex_;
    datagram_socket socket_;
    std::uint64_t next_number_ = 0;
    std::map<std::uint64_t, clock::time_point> awaited_;  // number -> sent at; at most depth_
    std::uint64_t lost_ = 0;
    std::vector<std::byte> buffer_;
};

}  // namespace wire::client
