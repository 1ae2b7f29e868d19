#include "datagram_session.h"

#include "payload_stream.h"

#include <wire/error.h>

#include <cstring>
#include <string>

namespace wire::client {

namespace {

constexpr std::size_t number_size = sizeof(std::uint64_t);

class session_handler final : public datagram_handler {
public:
    explicit session_handler(std::shared_ptr<datagram_session> session) noexcept : session_(std::move(session)) {}
    void on_datagram(datagram_socket&, const endpoint& from, gsl::span<const std::byte> data) override {
        session_->received(from, data);
    }
    void on_truncated(datagram_socket&, const endpoint& from, std::size_t) override { session_->truncated(from); }
    void on_close(datagram_socket&, std::error_code reason) override { session_->closed(reason); }

private:
    std::shared_ptr<datagram_session> session_;
};

}  // namespace

datagram_session::datagram_session(run_state& run, std::uint64_t index)
    : run_(run),
      index_(index),
      key_(payload_stream::seed_for(0xD47A'0000'0000'0000ULL + index)),
      size_(run.opts().size),
      depth_(run.opts().pipeline),
      buffer_(run.opts().size) {}

std::unique_ptr<datagram_handler> datagram_session::make_handler(std::shared_ptr<datagram_session> session) {
    return std::make_unique<session_handler>(std::move(session));
}

std::uint64_t datagram_session::seed(std::uint64_t number) const noexcept {
    return payload_stream::seed_for(key_ ^ (number * 0x9E37'79B9'7F4A'7C15ULL));
}

void datagram_session::start(const datagram_socket& socket) {
    std::lock_guard lock(mutex_);
    socket_ = socket;
    const auto now = clock::now();
    for (std::size_t i = 0; i < depth_; ++i) {
        send_next(now);
    }
}

void datagram_session::send_next(clock::time_point now) {
    const std::uint64_t number = next_number_++;
    const std::uint64_t masked = number ^ key_;
    std::memcpy(buffer_.data(), &masked, number_size);  // byte order is irrelevant: both sides agree
    payload_stream(seed(number)).fill(gsl::span<std::byte>(buffer_).subspan(number_size));
    awaited_.emplace(number, now);
    if (const std::error_code ec = socket_.send_to(run_.opts().server, buffer_); ec) {
        // The send cap covers a whole window, so a refusal means the socket is closing or the
        // system failed the send: the datagram is lost, and the failure is an error of the run.
        awaited_.erase(number);
        ++lost_;
        run_.report_error("socket " + std::to_string(index_) + ": send failed: " + ec.message());
    }
}

bool datagram_session::verify(std::uint64_t number, gsl::span<const std::byte> data) const {
    return payload_stream(seed(number)).matches(data.subspan(number_size));
}

void datagram_session::received(const endpoint& from, gsl::span<const std::byte> data) {
    const auto now = clock::now();
    std::lock_guard lock(mutex_);
    std::uint64_t number = 0;
    const bool ours = from == run_.opts().server && data.size() == size_;
    if (ours) {
        std::memcpy(&number, data.data(), number_size);
        number ^= key_;
    }
    if (!ours || number >= next_number_ || !verify(number, data)) {
        run_.report_mismatch("socket " + std::to_string(index_) + ": a datagram of " + std::to_string(data.size()) +
                             " bytes from " + from.to_string() + " is not one this socket sent");
        return;
    }
    const auto it = awaited_.find(number);
    if (it == awaited_.end()) {
        return;  // intact, but already counted lost (late) or answered (a duplicate)
    }
    run_.latency().record(now - it->second);
    awaited_.erase(it);
    run_counters& c = run_.counters();
    c.messages.fetch_add(1, std::memory_order_relaxed);
    c.payload_bytes.fetch_add(size_, std::memory_order_relaxed);
    if (!run_.stopping()) {
        send_next(now);
    }
}

void datagram_session::truncated(const endpoint& from) {
    run_.report_mismatch("socket " + std::to_string(index_) + ": a datagram from " + from.to_string() +
                         " was larger than any this socket sent");
}

void datagram_session::expire(clock::time_point now) {
    std::lock_guard lock(mutex_);
    std::size_t expired = 0;
    for (auto it = awaited_.begin(); it != awaited_.end();) {
        if (now - it->second >= loss_timeout) {
            it = awaited_.erase(it);
            ++expired;
        } else {
            ++it;
        }
    }
    lost_ += expired;
    if (!run_.stopping()) {
        for (std::size_t i = 0; i < expired; ++i) {
            send_next(now);
        }
    }
}

bool datagram_session::idle() {
    std::lock_guard lock(mutex_);
    return awaited_.empty();
}

void datagram_session::abandon() {
    std::lock_guard lock(mutex_);
    lost_ += awaited_.size();
    awaited_.clear();
}

std::uint64_t datagram_session::lost() {
    std::lock_guard lock(mutex_);
    return lost_;
}

void datagram_session::closed(std::error_code reason) {
    if (reason && reason != make_error_code(error::engine_stopped)) {
        run_.report_error("socket " + std::to_string(index_) + ": closed: " + reason.message());
    }
}

}  // namespace wire::client
