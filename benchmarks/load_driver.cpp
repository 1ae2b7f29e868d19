#include "load_driver.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace wire::bench {

namespace {

using namespace std::chrono_literals;

constexpr std::size_t receive_size = 64 * 1024;
constexpr std::size_t max_send = 1 << 20;  // bytes per send call; a larger message goes in pieces
// Sent bytes repeat with this period, so the byte at stream offset i is i % 251: a prime period
// makes a chunk echoed twice, dropped or reordered show up as a mismatch.
constexpr std::size_t pattern_period = 251;
// Receives handled for one connection before the others get their turn: a server quick enough to
// echo each new message before the next receive would otherwise keep one connection busy for good.
constexpr int max_receives_in_a_row = 8;

const std::vector<std::byte>& pattern() {
    static const std::vector<std::byte> bytes = [] {
        std::vector<std::byte> out(std::max(max_send, receive_size) + pattern_period);
        for (std::size_t i = 0; i < out.size(); ++i) {
            out[i] = static_cast<std::byte>(i % pattern_period);
        }
        return out;
    }();
    return bytes;
}

const std::byte* pattern_at(std::uint64_t stream_offset) {
    return pattern().data() + stream_offset % pattern_period;
}

}  // namespace

// ---- echo driver -------------------------------------------------------------------------------

struct driver_connection {
    net::socket socket;
    std::size_t token = 0;     // its index, also its token in the poller
    bool failed = false;
    bool wants_write = false;  // the poller watches it for writing (a send would have blocked)
    std::uint64_t bytes_sent = 0;
    std::uint64_t bytes_owed = 0;  // written by queue_messages, not yet taken by a send call
    std::uint64_t bytes_received = 0;
    std::uint64_t messages_queued = 0;
    std::uint64_t messages_received = 0;
    steady_clock::time_point queued_at{};  // when the last message was queued (pipeline 1)
};

echo_driver::echo_driver(std::uint16_t port, const echo_load& load)
    : load_(load), buffer_(std::make_unique_for_overwrite<std::byte[]>(receive_size)) {
    connections_.reserve(load_.connections);
    for (std::size_t i = 0; i < load_.connections; ++i) {
        auto c = std::make_unique<driver_connection>();
        std::string problem;
        c->socket = net::connect_loopback(port, 10s, problem);
        if (!c->socket) {
            throw std::runtime_error(problem);
        }
        c->token = i;
        if (!net::set_blocking(c->socket, false) || !poller_.add(c->socket, i)) {
            throw std::runtime_error("cannot watch a driver connection");
        }
        connections_.push_back(std::move(c));
    }
    active_ = connections_.size();
}

// Closing is enough: nothing the kernel holds refers to the driver's memory (no overlapped I/O).
echo_driver::~echo_driver() = default;

void echo_driver::start() {
    for (const auto& c : connections_) {
        queue_messages(*c, load_.pipeline);
        send(*c);
    }
}

std::uint64_t echo_driver::run_until(steady_clock::time_point deadline, std::uint64_t target) {
    while (completed_ < target && active_ > 0) {
        const auto now = steady_clock::now();
        if (now >= deadline) {
            break;
        }
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now);
        std::string problem;
        if (!poller_.wait(left, ready_, problem)) {
            error_ = problem;
            break;
        }
        for (const net::poller::event& e : ready_) {
            driver_connection& c = *connections_[e.token];
            if (e.writable && !c.failed) {
                send(c);
            }
            if (e.readable && !c.failed) {
                receive(c);
            }
        }
    }
    return completed_;
}

void echo_driver::receive(driver_connection& c) {
    for (int round = 0; round < max_receives_in_a_row && !c.failed; ++round) {
        const net::io_result r = net::receive_some(c.socket, buffer_.get(), receive_size);
        switch (r.what) {
        case net::io_result::kind::done:
            if (!on_received(c, r.bytes)) {
                return;
            }
            break;
        case net::io_result::kind::would_block:
            return;
        case net::io_result::kind::closed:
            fail(c, "the server closed a connection");
            return;
        case net::io_result::kind::failed:
            fail(c, r.problem);
            return;
        }
    }
}

bool echo_driver::on_received(driver_connection& c, std::size_t bytes) {
    if (std::memcmp(buffer_.get(), pattern_at(c.bytes_received), bytes) != 0) {
        fail(c, "an echo differs from what was sent");
        return false;
    }
    if (c.bytes_received + bytes > c.bytes_sent) {
        fail(c, "the server echoed more than was sent");
        return false;
    }
    c.bytes_received += bytes;
    const std::uint64_t messages = c.bytes_received / load_.message_size;
    const std::uint64_t finished = messages - c.messages_received;
    c.messages_received = messages;
    completed_ += finished;
    if (finished > 0 && load_.pipeline == 1) {
        latencies_us_.push_back(std::chrono::duration<double, std::micro>(steady_clock::now() - c.queued_at).count());
    }
    if (finished > 0) {
        queue_messages(c, finished);
        send(c);
    }
    return true;
}

void echo_driver::queue_messages(driver_connection& c, std::uint64_t count) {
    count = std::min(count, load_.messages_per_connection - c.messages_queued);
    c.messages_queued += count;
    c.queued_at = steady_clock::now();
    c.bytes_owed += count * load_.message_size;
}

// One send call per message (a large message in pieces of at most max_send): the messages in
// flight reach the server as separate writes, as from a client that sends each request when it
// is produced, so the server sees them one by one whenever it keeps up and coalesced when it
// falls behind. (Writing a whole burst at once would turn "8 small messages in flight" into one
// 8-message round trip.) When the socket's buffer is full the poller says when to go on.
void echo_driver::send(driver_connection& c) {
    while (c.bytes_owed > 0 && !c.failed) {
        const std::uint64_t message_left = load_.message_size - c.bytes_sent % load_.message_size;
        const auto length = static_cast<std::size_t>(std::min({c.bytes_owed, message_left, std::uint64_t{max_send}}));
        const net::io_result r = net::send_some(c.socket, pattern_at(c.bytes_sent), length);
        if (r.what == net::io_result::kind::would_block) {
            break;
        }
        if (r.what != net::io_result::kind::done) {
            fail(c, r.problem.empty() ? std::string("send failed") : r.problem);
            return;
        }
        c.bytes_sent += r.bytes;
        c.bytes_owed -= std::min<std::uint64_t>(r.bytes, c.bytes_owed);
    }
    const bool blocked = c.bytes_owed > 0;
    if (blocked != c.wants_write && !c.failed) {
        if (!poller_.want_write(c.socket, c.token, blocked)) {
            fail(c, "cannot watch a driver connection for writing");
            return;
        }
        c.wants_write = blocked;
    }
}

void echo_driver::fail(driver_connection& c, const std::string& what) {
    if (c.failed) {
        return;
    }
    c.failed = true;
    --active_;
    if (error_.empty()) {
        error_ = what;
    }
}

// ---- churn driver ------------------------------------------------------------------------------

churn_driver::churn_driver(std::uint16_t port, unsigned loops, std::size_t message_size,
                           std::chrono::seconds limit) {
    const auto deadline = steady_clock::now() + limit;
    threads_.reserve(loops);
    for (unsigned i = 0; i < loops; ++i) {
        threads_.emplace_back([this, port, message_size, deadline] { loop(port, message_size, deadline); });
    }
}

churn_driver::~churn_driver() { stop(); }

void churn_driver::stop() noexcept {
    stopping_.store(true, std::memory_order_relaxed);
    for (auto& t : threads_) {
        if (t.joinable()) {
            t.join();
        }
    }
}

std::string churn_driver::error() const {
    std::lock_guard lock(error_mutex_);
    return error_;
}

void churn_driver::record(const std::string& what) noexcept {
    std::lock_guard lock(error_mutex_);
    if (error_.empty()) {
        error_ = what;
    }
}

// Plain blocking calls: each loop has one connection at a time, which is what a churn test asks
// of the server (accept, one exchange, close) without pipelining anything on the client side.
void churn_driver::loop(std::uint16_t port, std::size_t message_size, steady_clock::time_point deadline) noexcept {
    constexpr std::uint64_t max_per_loop = 1'000'000;  // a bound on the count besides the deadline
    std::vector<std::byte> reply(message_size);
    for (std::uint64_t n = 0; n < max_per_loop && !stopping_.load(std::memory_order_relaxed) &&
                              steady_clock::now() < deadline;
         ++n) {
        std::string problem;
        net::socket s = net::connect_loopback(port, 10s, problem);
        if (!s) {
            record(problem);
            return;
        }
        // A silent server fails the loop instead of hanging it.
        if (!net::set_receive_timeout(s, 10s)) {
            record("cannot set a receive timeout");
            return;
        }
        const net::io_result sent = net::send_some(s, pattern_at(0), message_size);
        if (sent.what != net::io_result::kind::done || sent.bytes != message_size) {
            record(sent.problem.empty() ? std::string("a blocking send took part of a message") : sent.problem);
            return;
        }
        std::size_t got = 0;
        while (got < message_size) {
            const net::io_result r = net::receive_some(s, reply.data() + got, message_size - got);
            if (r.what != net::io_result::kind::done) {
                record(r.what == net::io_result::kind::closed ? std::string("the server closed before echoing")
                       : r.problem.empty()                    ? std::string("recv timed out")
                                                              : r.problem);
                return;
            }
            got += r.bytes;
        }
        if (std::memcmp(reply.data(), pattern_at(0), message_size) != 0) {
            record("an echo differs from what was sent");
            return;
        }
        s.reset();  // graceful close: the client side takes TIME_WAIT, as clients normally do
        completed_.fetch_add(1, std::memory_order_relaxed);
    }
}

}  // namespace wire::bench
