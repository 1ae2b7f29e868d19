#include "pipelined_session.h"

#include <wire/error.h>

#include <algorithm>
#include <new>
#include <string>

namespace wire::client {

namespace {

class pipelined_handler final : public connection_handler {
public:
    explicit pipelined_handler(std::shared_ptr<pipelined_session> session) noexcept : session_(std::move(session)) {}
    void on_open(connection& c) override { session_->opened(c); }
    void on_data(connection& c, gsl::span<const std::byte> data) override { session_->received(c, data); }
    void on_drained(connection& c) override { session_->drained(c); }
    void on_close(connection& /*c*/, std::error_code reason) override { session_->closed(reason); }

private:
    std::shared_ptr<pipelined_session> session_;
};

}  // namespace

pipelined_session::pipelined_session(run_state& run, std::uint64_t index)
    : run_(run),
      index_(index),
      framed_(run.opts().mode == mode::frame),
      size_(run.opts().size),
      depth_(run.opts().pipeline),
      outgoing_(payload_stream::seed_for(index)),
      expected_(payload_stream::seed_for(index)),
      sent_at_(depth_),
      frames_(static_cast<std::uint32_t>(size_)) {}

std::unique_ptr<connection_handler> pipelined_session::make_handler(std::shared_ptr<pipelined_session> session) {
    return std::make_unique<pipelined_handler>(std::move(session));
}

std::string pipelined_session::name() const { return "connection " + std::to_string(index_); }

void pipelined_session::attach(const connection& c) {
    const std::lock_guard lock(mutex_);
    if (!closed_ && !conn_) {
        conn_ = c;
    }
}

void pipelined_session::finish() {
    const std::lock_guard lock(mutex_);
    finishing_ = true;
    if (closed_ || close_requested_ || !conn_) {
        return;
    }
    if (!opened_) {
        conn_.close();  // still connecting at the end of the run: reported as an error on close
        return;
    }
    close_when_done(conn_);
}

void pipelined_session::opened(connection& c) {
    const std::lock_guard lock(mutex_);
    opened_ = true;
    conn_ = c;
    if (run_.tls()) {
        run_.note_session(c);
    }
    if (winding_down()) {
        close_when_done(c);
        return;
    }
    send_messages(c, depth_);
}

void pipelined_session::send_messages(connection& c, std::size_t count) {
    if (count == 0) {
        return;
    }
    const std::size_t message_bytes = size_ + (framed_ ? frame_parser::header_size : 0);
    // New messages go behind any that are still waiting for room, never ahead of them.
    std::vector<std::byte>& buffer = pending_.empty() ? outgoing_buffer_ : pending_;
    const std::size_t start = buffer.size();
    const auto now = clock::now();
    try {
        buffer.resize(start + count * message_bytes);
    } catch (const std::bad_alloc&) {
        break_off(c, "out of memory for outgoing messages");
        return;
    }
    auto out = gsl::span(buffer).subspan(start);
    for (std::size_t i = 0; i < count; ++i) {
        if (framed_) {
            const auto header = frame_header(static_cast<std::uint32_t>(size_));
            std::copy(header.begin(), header.end(), out.begin());
            out = out.subspan(header.size());
        }
        outgoing_.fill(out.first(size_));
        out = out.subspan(size_);
        sent_at_[(oldest_ + in_flight_) % depth_] = now;
        ++in_flight_;
    }
    if (&buffer == &pending_) {
        return;  // on_drained sends it
    }
    if (c.send(outgoing_buffer_) == error::send_queue_full) {
        pending_.swap(outgoing_buffer_);  // pending_ was empty: nothing is reordered
    }
    // Any other failure means the connection is closing: on_close reports what was in flight.
    outgoing_buffer_.clear();
}

void pipelined_session::drained(connection& c) {
    const std::lock_guard lock(mutex_);
    if (!pending_.empty() && c.send(pending_) != error::send_queue_full) {
        pending_.clear();
    }
}

void pipelined_session::received(connection& c, gsl::span<const std::byte> data) {
    const std::lock_guard lock(mutex_);
    if (broken_) {
        return;
    }
    const auto now = clock::now();
    std::uint64_t done = 0;
    if (framed_) {
        check_frames(c, data, now, done);
    } else {
        check_stream(c, data, now, done);
    }
    run_counters& counters = run_.counters();
    counters.messages.fetch_add(done, std::memory_order_relaxed);
    counters.payload_bytes.fetch_add(done * size_, std::memory_order_relaxed);
    if (broken_) {
        return;
    }
    if (!winding_down()) {
        send_messages(c, static_cast<std::size_t>(done));  // one new message per reply: depth stays constant
    }
    close_when_done(c);
}

void pipelined_session::check_stream(connection& c, gsl::span<const std::byte> data, clock::time_point now,
                                     std::uint64_t& done) {
    // An echo stream has no message boundaries: every size_ bytes back complete the oldest message.
    while (!data.empty()) {
        if (in_flight_ == 0) {
            run_.report_mismatch(name() + ": " + std::to_string(data.size()) + " bytes arrived that were never sent");
            break_off(c, "");
            return;
        }
        const std::size_t take = std::min(data.size(), size_ - reply_received_);
        if (!expected_.matches(data.first(take))) {
            reply_intact_ = false;
        }
        reply_received_ += take;
        data = data.subspan(take);
        if (reply_received_ == size_) {
            complete_reply(reply_intact_, now, done);
            reply_received_ = 0;
            reply_intact_ = true;
        }
    }
}

void pipelined_session::check_frames(connection& c, gsl::span<const std::byte> data, clock::time_point now,
                                     std::uint64_t& done) {
    frames_.feed(data);
    for (;;) {
        const frame_parser::status s = frames_.next();
        if (s == frame_parser::status::need_more) {
            return;
        }
        if (s != frame_parser::status::frame) {
            run_.report_mismatch(name() + ": a reply frame declares " + std::to_string(frames_.declared_length()) +
                                 " bytes, more than the " + std::to_string(size_) + " sent");
            break_off(c, "");
            return;
        }
        if (in_flight_ == 0) {
            run_.report_mismatch(name() + ": a frame arrived that was never sent");
            break_off(c, "");
            return;
        }
        const auto payload = frames_.payload();
        bool intact = payload.size() == size_;
        if (intact) {
            intact = expected_.matches(payload);
        } else {
            expected_.skip(size_);  // stay aligned with the next message
        }
        complete_reply(intact, now, done);
    }
}

void pipelined_session::complete_reply(bool intact, clock::time_point now, std::uint64_t& done) {
    run_.latency().record(now - sent_at_[oldest_]);
    oldest_ = (oldest_ + 1) % depth_;
    --in_flight_;
    ++replies_;
    ++done;
    if (!intact) {
        run_.report_mismatch(name() + ": reply " + std::to_string(replies_) + " differs from what was sent");
    }
}

void pipelined_session::break_off(connection& c, const std::string& why) {
    broken_ = true;
    if (!why.empty()) {
        run_.report_error(name() + ": " + why);
    }
    c.abort(make_error_code(error::protocol_error));
}

void pipelined_session::close_when_done(connection& c) {
    if (winding_down() && in_flight_ == 0 && !close_requested_ && !closed_) {
        close_requested_ = true;
        c.close();
    }
}

void pipelined_session::closed(std::error_code reason) {
    {
        const std::lock_guard lock(mutex_);
        closed_ = true;
        const std::string because = reason ? reason.message() : "closed gracefully";
        if (!opened_) {
            run_.report_not_opened(name(), reason);  // refused, timed out, or (--tls) a failed handshake
        } else if (broken_) {
            // Already reported when the bad reply arrived.
        } else if (!close_requested_) {
            run_.report_error(name() + ": closed during the run with " + std::to_string(in_flight_) +
                              " messages in flight: " + because);
        } else if (in_flight_ > 0) {
            run_.report_error(name() + ": closed with " + std::to_string(in_flight_) + " replies missing: " + because);
        }
        conn_ = {};  // the connection can be freed
    }
    run_.participant_finished();
}

}  // namespace wire::client
