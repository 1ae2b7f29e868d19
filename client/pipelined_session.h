#pragma once
// echo and frame modes: one connection that keeps --pipeline messages of --size bytes in flight,
// checks every byte of every reply against what was sent, and times each message's round trip.
//
// The session is shared by the handler the engine owns and by main, which asks it to finish at
// the end of the run; a mutex guards it because on_drained may run while on_data runs.
#include <wire/connection.h>
#include <wire/frame_parser.h>

#include "payload_stream.h"
#include "run_state.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <vector>

namespace wire::client {

class pipelined_session {
public:
    pipelined_session(run_state& run, std::uint64_t index);

    // The handler to give run_state::connect; it forwards every event to the session.
    [[nodiscard]] static std::unique_ptr<connection_handler> make_handler(std::shared_ptr<pipelined_session> session);

    // From main, with what run_state::connect returned: the handle to close should the connection
    // still be connecting when the run ends.
    void attach(const connection& c);
    // From main at the end of the run: send nothing new; close once the last reply is in.
    void finish();

    void opened(connection& c);
    void received(connection& c, gsl::span<const std::byte> data);
    void drained(connection& c);
    void closed(std::error_code reason);

private:
    using clock = std::chrono::steady_clock;

    // Everything below runs with mutex_ held.
    [[nodiscard]] bool winding_down() const noexcept { return finishing_ || run_.stopping(); }
    void send_messages(connection& c, std::size_t count);
    void check_stream(connection& c, gsl::span<const std::byte> data, clock::time_point now, std::uint64_t& done);
    void check_frames(connection& c, gsl::span<const std::byte> data, clock::time_point now, std::uint64_t& done);
    void complete_reply(bool intact, clock::time_point now, std::uint64_t& done);
    void break_off(connection& c, const std::string& why);
    void close_when_done(connection& c);
    [[nodiscard]] std::string name() const;

    run_state& run_;
    const std::uint64_t index_;
    const bool framed_;
    const std::size_t size_;
    const std::size_t depth_;

    std::mutex mutex_;
    connection conn_;
    bool opened_ = false;
    bool closed_ = false;
    bool finishing_ = false;
    bool close_requested_ = false;
    bool broken_ = false;                 // a reply made no sense: the connection was aborted
    payload_stream outgoing_;             // generates what is sent...
    payload_stream expected_;             // ...and, with the same seed, what must come back
    std::vector<clock::time_point> sent_at_;  // ring of depth_ send times, oldest first
    std::size_t oldest_ = 0;
    std::size_t in_flight_ = 0;
    std::uint64_t replies_ = 0;           // for messages naming the reply that failed
    std::size_t reply_received_ = 0;      // echo mode: bytes of the current reply so far
    bool reply_intact_ = true;
    frame_parser frames_;                 // frame mode: replies longer than --size are refused
    std::vector<std::byte> outgoing_buffer_;
    // Messages send() refused (queue full), sent again on_drained. Bounded: only replies free
    // room for new messages, so at most --pipeline messages are ever waiting or in flight.
    std::vector<std::byte> pending_;
};

}  // namespace wire::client
