#include "load_driver.h"

#include <algorithm>
#include <cstring>
#include <deque>
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
    std::unique_ptr<net::stream> tls;  // with echo_load::tls: the records over `socket`
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

echo_driver::echo_driver(std::uint16_t port, const echo_load& load, std::shared_ptr<net::tls_client> tls)
    : load_(load), buffer_(std::make_unique_for_overwrite<std::byte[]>(receive_size)) {
    connections_.reserve(load_.connections);
    for (std::size_t i = 0; i < load_.connections; ++i) {
        auto c = std::make_unique<driver_connection>();
        std::string problem;
        c->socket = net::connect_loopback(port, 10s, problem);
        if (!c->socket) {
            throw std::runtime_error(problem);
        }
        if (tls) {
            c->tls = tls->open(c->socket, 10s, problem);
            if (!c->tls) {
                throw std::runtime_error(problem);
            }
            if (session_.empty()) {
                session_ = c->tls->description();
            }
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
        const net::io_result r = c.tls ? c.tls->receive_some(buffer_.get(), receive_size)
                                       : net::receive_some(c.socket, buffer_.get(), receive_size);
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
        const net::io_result r = c.tls ? c.tls->send_some(pattern_at(c.bytes_sent), length)
                                       : net::send_some(c.socket, pattern_at(c.bytes_sent), length);
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

// ---- UDP echo driver ---------------------------------------------------------------------------

namespace {

// A datagram: its number and its socket's token (8 bytes each), then the pattern from the number on.
constexpr std::size_t udp_header = 16;
// Numbers given up on and remembered, so that a reply arriving after its timeout is told apart
// from a duplicate or foreign one.
constexpr std::size_t remembered_losses = 4096;
// How often the datagrams in flight are checked for timeouts.
constexpr auto expiry_period = 10ms;

void write_datagram(std::byte* out, std::size_t size, std::uint64_t number, std::uint64_t token) {
    std::memcpy(out, &number, sizeof(number));
    std::memcpy(out + 8, &token, sizeof(token));
    std::memcpy(out + udp_header, pattern_at(number), size - udp_header);
}

}  // namespace

struct udp_driver_socket {
    struct slot {
        bool busy = false;
        std::uint64_t number = 0;
        steady_clock::time_point sent_at{};
    };
    net::socket socket;
    std::size_t token = 0;
    bool failed = false;
    bool wants_write = false;
    std::size_t owed = 0;  // datagrams to send as soon as the socket takes them
    std::uint64_t next_number = 0;
    std::vector<slot> slots;  // one per datagram in flight
    std::deque<std::uint64_t> given_up;
};

udp_echo_driver::udp_echo_driver(std::uint16_t port, const udp_load& load)
    : load_(load), buffer_(std::make_unique_for_overwrite<std::byte[]>(receive_size)) {
    if (load_.datagram_size < udp_header || load_.datagram_size > max_send || load_.pipeline == 0) {
        throw std::runtime_error("bad UDP load");
    }
    sockets_.reserve(load_.sockets);
    for (std::size_t i = 0; i < load_.sockets; ++i) {
        auto s = std::make_unique<udp_driver_socket>();
        std::string problem;
        s->socket = net::open_udp_loopback(port, problem);
        if (!s->socket) {
            throw std::runtime_error(problem);
        }
        s->token = i;
        s->slots.resize(load_.pipeline);
        if (!poller_.add(s->socket, i)) {
            throw std::runtime_error("cannot watch a driver socket");
        }
        sockets_.push_back(std::move(s));
    }
    active_ = sockets_.size();
}

udp_echo_driver::~udp_echo_driver() = default;

void udp_echo_driver::start() {
    for (const auto& s : sockets_) {
        s->owed = load_.pipeline;
        send(*s);
    }
}

std::uint64_t udp_echo_driver::run_until(steady_clock::time_point deadline) {
    auto next_expiry = steady_clock::now() + expiry_period;
    while (active_ > 0) {
        const auto now = steady_clock::now();
        if (now >= deadline) {
            break;
        }
        if (now >= next_expiry) {
            expire(now);
            next_expiry = now + expiry_period;
        }
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(std::min(deadline, next_expiry) - now);
        std::string problem;
        if (!poller_.wait(left, ready_, problem)) {
            error_ = problem;
            break;
        }
        for (const net::poller::event& e : ready_) {
            udp_driver_socket& s = *sockets_[e.token];
            if (e.writable && !s.failed) {
                send(s);
            }
            if (e.readable && !s.failed) {
                receive(s);
            }
        }
    }
    return completed_;
}

void udp_echo_driver::receive(udp_driver_socket& s) {
    for (int round = 0; round < max_receives_in_a_row && !s.failed; ++round) {
        const net::io_result r = net::receive_some(s.socket, buffer_.get(), receive_size);
        switch (r.what) {
        case net::io_result::kind::done:
            if (!on_reply(s, r.bytes)) {
                return;
            }
            break;
        case net::io_result::kind::would_block:
            return;
        case net::io_result::kind::closed:  // UDP: a zero-byte datagram, which the driver never sends
            fail(s, "an empty datagram came back");
            return;
        case net::io_result::kind::failed:
            fail(s, r.problem);
            return;
        }
    }
}

bool udp_echo_driver::on_reply(udp_driver_socket& s, std::size_t bytes) {
    std::uint64_t number = 0;
    std::uint64_t token = 0;
    if (bytes != load_.datagram_size) {
        fail(s, "a reply of " + std::to_string(bytes) + " bytes for a datagram of " +
                    std::to_string(load_.datagram_size));
        return false;
    }
    std::memcpy(&number, buffer_.get(), sizeof(number));
    std::memcpy(&token, buffer_.get() + 8, sizeof(token));
    if (token != s.token ||
        std::memcmp(buffer_.get() + udp_header, pattern_at(number), bytes - udp_header) != 0) {
        fail(s, "a reply differs from the datagram sent");
        return false;
    }
    const auto in_flight = std::find_if(s.slots.begin(), s.slots.end(),
                                        [number](const udp_driver_socket::slot& x) { return x.busy && x.number == number; });
    if (in_flight == s.slots.end()) {
        const auto gone = std::find(s.given_up.begin(), s.given_up.end(), number);
        if (gone == s.given_up.end()) {
            fail(s, "a duplicate or unknown reply (datagram " + std::to_string(number) + ")");
            return false;
        }
        s.given_up.erase(gone);  // answered after its timeout: already counted lost and replaced
        ++late_;
        return true;
    }
    in_flight->busy = false;
    ++completed_;
    ++s.owed;
    send(s);
    return true;
}

// One send call per datagram, into a free slot; a full socket buffer waits for writability.
void udp_echo_driver::send(udp_driver_socket& s) {
    while (s.owed > 0 && !s.failed) {
        const auto free = std::find_if(s.slots.begin(), s.slots.end(),
                                       [](const udp_driver_socket::slot& x) { return !x.busy; });
        if (free == s.slots.end()) {
            break;
        }
        write_datagram(buffer_.get(), load_.datagram_size, s.next_number, s.token);
        const net::io_result r = net::send_some(s.socket, buffer_.get(), load_.datagram_size);
        if (r.what == net::io_result::kind::would_block) {
            break;
        }
        if (r.what != net::io_result::kind::done || r.bytes != load_.datagram_size) {
            fail(s, r.problem.empty() ? std::string("a datagram was not sent whole") : r.problem);
            return;
        }
        *free = {true, s.next_number++, steady_clock::now()};
        --s.owed;
    }
    const bool blocked = s.owed > 0;
    if (blocked != s.wants_write && !s.failed) {
        if (!poller_.want_write(s.socket, s.token, blocked)) {
            fail(s, "cannot watch a driver socket for writing");
            return;
        }
        s.wants_write = blocked;
    }
}

// Datagrams unanswered for loss_timeout are counted lost and replaced.
void udp_echo_driver::expire(steady_clock::time_point now) {
    for (const auto& s : sockets_) {
        if (s->failed) {
            continue;
        }
        for (auto& x : s->slots) {
            if (x.busy && now - x.sent_at >= load_.loss_timeout) {
                x.busy = false;
                ++lost_;
                ++s->owed;
                s->given_up.push_back(x.number);
                if (s->given_up.size() > remembered_losses) {
                    s->given_up.pop_front();
                }
            }
        }
        send(*s);
    }
}

void udp_echo_driver::fail(udp_driver_socket& s, const std::string& what) {
    if (s.failed) {
        return;
    }
    s.failed = true;
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
