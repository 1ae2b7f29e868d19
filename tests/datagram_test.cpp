// wire::datagram_socket: echo over IPv4 and IPv6, many sockets, the size limit and truncation,
// ICMP errors (real, and Windows' WSAECONNRESET through the seam), stop with receives posted,
// hostile input, the send cap, and option checks.
#include "fault_platform.h"
#include "test_support.h"

#include <functional>
#include <stdexcept>
#include <thread>

namespace wire::test {

namespace {

// STATUS_PORT_UNREACHABLE: what a WSARecvFrom completes with on Windows after an ICMP "port
// unreachable" when SIO_UDP_CONNRESET is on (Win32: ERROR_PORT_UNREACHABLE, 1234).
constexpr LONG status_port_unreachable = static_cast<LONG>(0xC000023FL);
constexpr LONG status_buffer_overflow = static_cast<LONG>(0x80000005L);  // a truncated datagram (a warning)

// Everything a datagram socket reported, guarded by one mutex.
struct datagram_log {
    std::mutex mutex;
    std::vector<std::pair<endpoint, std::vector<std::byte>>> datagrams;
    std::vector<std::pair<endpoint, std::size_t>> truncated;
    int closed = 0;
    int events_after_close = 0;
    std::error_code reason;
    std::thread::id closed_on;

    std::size_t received() {
        std::lock_guard lock(mutex);
        return datagrams.size();
    }
    bool is_closed() {
        std::lock_guard lock(mutex);
        return closed > 0;
    }
};

// Records every event; echoes each datagram to its sender when `echo`.
class recording_datagram_handler : public datagram_handler {
public:
    recording_datagram_handler(std::shared_ptr<datagram_log> log, bool echo) : log_(std::move(log)), echo_(echo) {}
    void on_datagram(datagram_socket& s, const endpoint& from, gsl::span<const std::byte> data) override {
        {
            std::lock_guard lock(log_->mutex);
            log_->events_after_close += log_->closed;
            log_->datagrams.emplace_back(from, std::vector<std::byte>(data.begin(), data.end()));
        }
        if (echo_) {
            (void)s.send_to(from, data);
        }
    }
    void on_truncated(datagram_socket&, const endpoint& from, std::size_t received) override {
        std::lock_guard lock(log_->mutex);
        log_->events_after_close += log_->closed;
        log_->truncated.emplace_back(from, received);
    }
    void on_close(datagram_socket&, std::error_code reason) override {
        std::lock_guard lock(log_->mutex);
        ++log_->closed;
        log_->reason = reason;
        log_->closed_on = std::this_thread::get_id();
    }

private:
    std::shared_ptr<datagram_log> log_;
    bool echo_;
};

std::unique_ptr<datagram_handler> echo_into(const std::shared_ptr<datagram_log>& log) {
    return std::make_unique<recording_datagram_handler>(log, true);
}

// A plain blocking UDP socket on loopback: the peer in these tests. Receives wait at most 10 s
// (a bound against a hang, not a timing assertion).
class raw_udp {
public:
    explicit raw_udp(bool ipv6 = false) {
        socket_ = ::socket(ipv6 ? AF_INET6 : AF_INET, SOCK_DGRAM, IPPROTO_UDP);
        EXPECT_NE(socket_, INVALID_SOCKET);
        const endpoint local = ipv6 ? endpoint::loopback_v6(0) : endpoint::loopback_v4(0);
        EXPECT_EQ(::bind(socket_, reinterpret_cast<const sockaddr*>(local.data()), local.size()), 0);
        set_timeout(10'000);
        sockaddr_storage address{};
        int length = sizeof(address);
        EXPECT_EQ(::getsockname(socket_, reinterpret_cast<sockaddr*>(&address), &length), 0);
        std::memcpy(address_.data(), &address, static_cast<std::size_t>(length));
    }
    ~raw_udp() { close(); }
    raw_udp(const raw_udp&) = delete;
    raw_udp& operator=(const raw_udp&) = delete;

    void set_timeout(DWORD ms) {
        ::setsockopt(socket_, SOL_SOCKET, SO_RCVTIMEO, reinterpret_cast<const char*>(&ms), sizeof(ms));
    }
    bool send_to(const endpoint& to, gsl::span<const std::byte> data) {
        return ::sendto(socket_, reinterpret_cast<const char*>(data.data()), static_cast<int>(data.size()), 0,
                        reinterpret_cast<const sockaddr*>(to.data()), to.size()) == static_cast<int>(data.size());
    }
    // The next datagram (nullopt on timeout or error).
    std::optional<std::vector<std::byte>> receive() {
        std::vector<std::byte> buffer(65'536);
        const int n = ::recvfrom(socket_, reinterpret_cast<char*>(buffer.data()), static_cast<int>(buffer.size()), 0,
                                 nullptr, nullptr);
        if (n < 0) {
            return std::nullopt;
        }
        buffer.resize(static_cast<std::size_t>(n));
        return buffer;
    }
    // Sends `data` and waits for its echo, sending again after each timeout (UDP may lose it).
    bool round_trip(const endpoint& to, gsl::span<const std::byte> data, int attempts = 10) {
        for (int i = 0; i < attempts; ++i) {
            if (!send_to(to, data)) {
                return false;
            }
            while (const auto reply = receive()) {
                if (reply->size() == data.size() && std::equal(reply->begin(), reply->end(), data.begin())) {
                    return true;
                }
            }
        }
        return false;
    }
    [[nodiscard]] endpoint address() const { return address_; }
    void close() {
        if (socket_ != INVALID_SOCKET) {
            ::closesocket(socket_);
            socket_ = INVALID_SOCKET;
        }
    }

private:
    SOCKET socket_ = INVALID_SOCKET;
    endpoint address_;
};

// A numbered datagram: its number in the first 4 bytes, then bytes derived from it.
std::vector<std::byte> numbered(std::uint32_t n, std::size_t size) {
    std::vector<std::byte> out = random_bytes(size, n + 1);
    for (std::size_t i = 0; i < std::min<std::size_t>(4, size); ++i) {
        out[i] = static_cast<std::byte>((n >> (8 * i)) & 0xFF);
    }
    return out;
}

void expect_datagram_stopped_clean(engine& e, const datagram_socket& s, datagram_log& log) {
    expect_stopped_clean(e);
    EXPECT_EQ(s.stats().operations_pending, 0U);
    EXPECT_EQ(s.stats().bytes_in_flight, 0U);
    std::lock_guard lock(log.mutex);
    EXPECT_EQ(log.closed, 1);
    EXPECT_EQ(log.events_after_close, 0);
}

class DatagramEcho : public ::testing::TestWithParam<bool> {};

TEST_P(DatagramEcho, EveryDatagramComesBackWholeFromTheRightAddress) {
    const bool ipv6 = GetParam();
    engine e;
    auto log = std::make_shared<datagram_log>();
    datagram_socket server =
        e.open_datagram(ipv6 ? endpoint::loopback_v6(0) : endpoint::loopback_v4(0), echo_into(log));
    ASSERT_NE(server.local_endpoint().port(), 0);
    EXPECT_EQ(server.local_endpoint().is_v6(), ipv6);
    raw_udp client(ipv6);
    for (std::uint32_t i = 0; i < 50; ++i) {
        const auto payload = numbered(i, 1 + (i * 37) % 1400);
        ASSERT_TRUE(client.round_trip(server.local_endpoint(), payload)) << "datagram " << i;
    }
    {
        std::lock_guard lock(log->mutex);
        ASSERT_GE(log->datagrams.size(), 50U);
        for (const auto& [from, data] : log->datagrams) {
            EXPECT_EQ(from, client.address());
        }
    }
    // A send is counted when its WSASendTo has finished, which may be after the client already
    // holds the reply.
    EXPECT_TRUE(eventually([&] { return server.stats().datagrams_sent >= 50U; }));
    const datagram_statistics stats = server.stats();
    EXPECT_GE(stats.datagrams_received, 50U);
    EXPECT_EQ(stats.datagrams_truncated, 0U);
    const platform_features f = e.features();
    EXPECT_TRUE(f.udp_probed);
    // Informational: what this platform offers (Windows 10+: coalescing; Wine 8: see the README).
    std::printf("udp features: SIO_UDP_CONNRESET off %d, send coalescing %d, receive coalescing %d\n",
                static_cast<int>(f.udp_connection_reset_off), static_cast<int>(f.udp_send_coalescing),
                static_cast<int>(f.udp_receive_coalescing));
    expect_datagram_stopped_clean(e, server, *log);
    EXPECT_EQ(log->reason, make_error_code(error::engine_stopped));
}

INSTANTIATE_TEST_SUITE_P(Families, DatagramEcho, ::testing::Values(false, true),
                         [](const auto& test_info) { return test_info.param ? std::string("IPv6") : std::string("IPv4"); });

TEST(Datagram, DualStackSocketServesIPv4PeersAsIPv4Endpoints) {
    engine e;
    auto log = std::make_shared<datagram_log>();
    datagram_options options;
    options.dual_stack = true;
    datagram_socket server = e.open_datagram(endpoint::any_v6(0), echo_into(log), options);
    raw_udp client;
    const std::string text = "mapped";
    ASSERT_TRUE(client.round_trip(endpoint::loopback_v4(server.local_endpoint().port()), as_bytes(text)));
    {
        std::lock_guard lock(log->mutex);
        ASSERT_FALSE(log->datagrams.empty());
        EXPECT_EQ(log->datagrams.front().first, client.address());  // 127.0.0.1:port, not ::ffff:...
    }
    // Without dual_stack an IPv6 socket refuses IPv4 destinations at once.
    auto plain_log = std::make_shared<datagram_log>();
    datagram_socket v6_only = e.open_datagram(endpoint::loopback_v6(0), echo_into(plain_log));
    EXPECT_EQ(v6_only.send_to(client.address(), as_bytes(text)), std::errc::address_family_not_supported);
    expect_stopped_clean(e);
}

TEST(Datagram, ManySocketsEachGetTheirOwnEchoes) {
    engine e;
    auto server_log = std::make_shared<datagram_log>();
    datagram_socket server = e.open_datagram(endpoint::loopback_v4(0), echo_into(server_log));
    // The clients are engine sockets too: each sends numbered datagrams and records what returns.
    constexpr std::size_t sockets = 32;
    constexpr std::uint32_t per_socket = 8;
    std::vector<std::shared_ptr<datagram_log>> logs;
    std::vector<datagram_socket> clients;
    for (std::size_t i = 0; i < sockets; ++i) {
        logs.push_back(std::make_shared<datagram_log>());
        datagram_options options;
        options.pending_receives = 2;
        clients.push_back(e.open_datagram(endpoint::loopback_v4(0),
                                          std::make_unique<recording_datagram_handler>(logs.back(), false), options));
    }
    // Sent in rounds, resent to the sockets still missing replies: loss is possible, never wrong data.
    for (int round = 0; round < 10; ++round) {
        for (std::size_t i = 0; i < sockets; ++i) {
            if (logs[i]->received() >= per_socket) {
                continue;
            }
            for (std::uint32_t n = 0; n < per_socket; ++n) {
                const auto payload = numbered(static_cast<std::uint32_t>(i * 100 + n), 200);
                EXPECT_FALSE(clients[i].send_to(server.local_endpoint(), payload));
            }
        }
        if (eventually([&] {
                for (const auto& l : logs) {
                    if (l->received() < per_socket) {
                        return false;
                    }
                }
                return true;
            }, 3s)) {
            break;
        }
    }
    for (std::size_t i = 0; i < sockets; ++i) {
        std::lock_guard lock(logs[i]->mutex);
        EXPECT_GE(logs[i]->datagrams.size(), per_socket) << "socket " << i;
        for (const auto& [from, data] : logs[i]->datagrams) {
            EXPECT_EQ(from, server.local_endpoint());
            ASSERT_EQ(data.size(), 200U);
            const std::uint32_t n = std::to_integer<std::uint32_t>(data[0]) | (std::to_integer<std::uint32_t>(data[1]) << 8);
            EXPECT_EQ(n / 100, i) << "a datagram reached the wrong socket";
            EXPECT_EQ(data, numbered(n, 200));
        }
    }
    expect_stopped_clean(e);
    for (const auto& l : logs) {
        EXPECT_EQ(l->closed, 1);
        EXPECT_EQ(l->events_after_close, 0);
    }
}

TEST(Datagram, AtTheSizeLimitIsDeliveredWholeAndOverItIsReportedTruncated) {
    engine e;
    auto log = std::make_shared<datagram_log>();
    datagram_options options;
    options.max_datagram_size = 1000;
    options.pending_receives = 2;
    datagram_socket server = e.open_datagram(endpoint::loopback_v4(0), echo_into(log), options);
    raw_udp client;
    const auto at_limit = numbered(1, 1000);
    ASSERT_TRUE(client.round_trip(server.local_endpoint(), at_limit));

    const auto over = numbered(2, 1001);
    ASSERT_TRUE(client.send_to(server.local_endpoint(), over));
    ASSERT_TRUE(eventually([&] { return server.stats().datagrams_truncated >= 1; }));
    {
        std::lock_guard lock(log->mutex);
        ASSERT_EQ(log->truncated.size(), 1U);
        EXPECT_EQ(log->truncated.front().first, client.address());
        EXPECT_LE(log->truncated.front().second, 1000U);
        for (const auto& [from, data] : log->datagrams) {
            EXPECT_NE(data.size(), 1001U);
            EXPECT_LE(data.size(), 1000U) << "a truncated datagram was delivered as if whole";
        }
    }
    // Nothing came back for it, and the socket goes on serving.
    const auto after = numbered(3, 10);
    ASSERT_TRUE(client.round_trip(server.local_endpoint(), after));
    expect_datagram_stopped_clean(e, server, *log);
}

// One receive outstanding; `plant` makes the seam's next WSARecvFrom (the one issued after the
// first datagram) meet a truncated datagram. The truncation is reported exactly once, and
// receiving goes on.
void expect_one_truncation_then_receiving_goes_on(const engine_options& options,
                                                  const std::function<void(fault_platform&)>& plant) {
    fault_platform platform;
    engine e(options);
    auto log = std::make_shared<datagram_log>();
    datagram_options socket_options;
    socket_options.pending_receives = 1;
    datagram_socket server = e.open_datagram(endpoint::loopback_v4(0), echo_into(log), socket_options);
    plant(platform);
    raw_udp client;
    ASSERT_TRUE(client.round_trip(server.local_endpoint(), as_bytes(std::string("first"))));
    ASSERT_TRUE(eventually([&] { return server.stats().datagrams_truncated >= 1; }, 5s));
    ASSERT_TRUE(client.round_trip(server.local_endpoint(), as_bytes(std::string("second"))));
    ASSERT_TRUE(client.round_trip(server.local_endpoint(), as_bytes(std::string("third"))));
    EXPECT_EQ(platform.injected(test::syscall::wsa_recv_from), 1U);
    EXPECT_EQ(server.stats().datagrams_truncated, 1U);
    EXPECT_EQ(server.stats().completions_inline, 0U);  // datagram sockets never skip the port
    {
        std::lock_guard lock(log->mutex);
        EXPECT_EQ(log->truncated.size(), 1U);
    }
    EXPECT_TRUE(server.is_open());
    expect_datagram_stopped_clean(e, server, *log);
}

// WSAEMSGSIZE at once (a datagram larger than the buffer was already waiting) is a truncated
// datagram, not a failed call: without skip-on-success Windows queues a packet for it as for a
// success (STATUS_BUFFER_OVERFLOW is a warning), which the seam plays. Before the fix the engine
// reported it inline and again from the packet, re-issuing the receive twice on one OVERLAPPED.
// (Datagram sockets never skip the port now; the option only makes the old failure certain.)
TEST(Datagram, TruncationReportedAtOnceWithAPacketBehindItIsReportedOnce) {
    engine_options options;
    options.skip_completion_port_on_success = false;
    expect_one_truncation_then_receiving_goes_on(
        options, [](fault_platform& platform) { platform.fail_nth(test::syscall::wsa_recv_from, 1, WSAEMSGSIZE); });
}

// With skip-on-success, Windows' WSARecvFrom reports a truncated datagram that completed at once
// as pending and queues no packet for it (the bug libuv works around by calling AFD itself). The
// seam plays that on sockets that skip the port; datagram sockets must therefore not skip it, or
// each oversized datagram strands a receive until the socket is deaf. Before the engine stopped
// using skip-on-success for datagram sockets, this failed: the truncation was never reported and
// the round trip after it never came back.
TEST(Datagram, ATruncatedDatagramThatCompletedAtOnceNeverStrandsItsReceive) {
    expect_one_truncation_then_receiving_goes_on(engine_options{}, [](fault_platform& platform) {
        platform.complete_nth_with(test::syscall::wsa_recv_from, 1, status_buffer_overflow);
    });
}

// Real truncations through Wine (or Windows), with datagrams already waiting when the receive is
// issued (so the receive may finish at once) and with none waiting.
TEST(Datagram, EachOversizedDatagramIsReportedOnceAndReceivingGoesOn) {
    engine e;
    auto log = std::make_shared<datagram_log>();
    datagram_options socket_options;
    socket_options.max_datagram_size = 100;
    socket_options.pending_receives = 1;
    datagram_socket server = e.open_datagram(endpoint::loopback_v4(0), echo_into(log), socket_options);
    raw_udp client;
    constexpr std::size_t oversized = 5;
    for (std::size_t i = 0; i < oversized; ++i) {
        ASSERT_TRUE(client.send_to(server.local_endpoint(), numbered(static_cast<std::uint32_t>(i), 101 + i)));
    }
    ASSERT_TRUE(eventually([&] { return server.stats().datagrams_truncated >= oversized; }));
    ASSERT_TRUE(client.round_trip(server.local_endpoint(), numbered(99, 100)));
    EXPECT_EQ(server.stats().datagrams_truncated, oversized);
    {
        std::lock_guard lock(log->mutex);
        EXPECT_EQ(log->truncated.size(), oversized);
        for (const auto& [from, received] : log->truncated) {
            EXPECT_EQ(from, client.address());
            EXPECT_LE(received, 100U);
        }
    }
    expect_datagram_stopped_clean(e, server, *log);
}

TEST(Datagram, PortUnreachableFromAnEarlierSendDoesNotBreakTheServer) {
    engine e;
    auto log = std::make_shared<datagram_log>();
    datagram_socket server = e.open_datagram(endpoint::loopback_v4(0), echo_into(log));
    EXPECT_TRUE(server.stats().receive_calls >= 1);
    // A port nobody listens on: bound once, then closed. The loopback answers with ICMP port
    // unreachable, which with SIO_UDP_CONNRESET on would end the next WSARecvFrom on Windows.
    endpoint closed_port;
    {
        raw_udp gone;
        closed_port = gone.address();
    }
    for (int i = 0; i < 5; ++i) {
        EXPECT_FALSE(server.send_to(closed_port, as_bytes(std::string("anyone?"))));
    }
    ASSERT_TRUE(eventually([&] { return server.stats().datagrams_sent + server.stats().send_failures >= 5; }));
    raw_udp client;
    for (std::uint32_t i = 0; i < 10; ++i) {
        ASSERT_TRUE(client.round_trip(server.local_endpoint(), numbered(i, 100))) << "datagram " << i;
    }
    EXPECT_TRUE(server.is_open());
    EXPECT_FALSE(log->is_closed());
    expect_datagram_stopped_clean(e, server, *log);
}

TEST(Datagram, WSARecvFromEndingWithConnectionResetIsSurvivedAsWindowsReportsIt) {
    fault_platform platform;
    engine e;
    auto log = std::make_shared<datagram_log>();
    datagram_options options;
    options.pending_receives = 1;
    options.report_connection_reset = true;  // the Windows default this engine turns off
    datagram_socket server = e.open_datagram(endpoint::loopback_v4(0), echo_into(log), options);
    // After the first datagram: the re-posted receive completes with STATUS_PORT_UNREACHABLE
    // (through the port), the next fails at once with WSAECONNRESET (both as Windows reports an
    // ICMP port unreachable with SIO_UDP_CONNRESET on); the one after is real.
    platform.complete_nth_with(test::syscall::wsa_recv_from, 1, status_port_unreachable);
    platform.fail_nth(test::syscall::wsa_recv_from, 2, WSAECONNRESET);
    raw_udp client;
    ASSERT_TRUE(client.round_trip(server.local_endpoint(), as_bytes(std::string("before"))));
    ASSERT_TRUE(eventually([&] { return platform.injected(test::syscall::wsa_recv_from) == 2; }));
    ASSERT_TRUE(client.round_trip(server.local_endpoint(), as_bytes(std::string("after"))));
    EXPECT_EQ(server.stats().receive_errors, 2U);
    EXPECT_TRUE(server.is_open());
    EXPECT_FALSE(log->is_closed());
    expect_datagram_stopped_clean(e, server, *log);
}

TEST(Datagram, AnUnexpectedReceiveErrorClosesThatSocketWithItOnly) {
    fault_platform platform;
    engine e;
    auto log = std::make_shared<datagram_log>();
    auto other_log = std::make_shared<datagram_log>();
    datagram_options options;
    options.pending_receives = 1;
    datagram_socket failing = e.open_datagram(endpoint::loopback_v4(0), echo_into(log), options);
    datagram_socket other = e.open_datagram(endpoint::loopback_v4(0), echo_into(other_log), options);
    platform.fail_nth(test::syscall::wsa_recv_from, 1, WSAENETDOWN);
    raw_udp client;
    ASSERT_TRUE(client.round_trip(failing.local_endpoint(), as_bytes(std::string("one"))));
    ASSERT_TRUE(eventually([&] { return log->is_closed(); }));
    EXPECT_EQ(log->reason, std::error_code(WSAENETDOWN, std::system_category()));
    EXPECT_FALSE(failing.is_open());
    EXPECT_EQ(failing.send_to(client.address(), as_bytes(std::string("x"))), error::not_connected);
    ASSERT_TRUE(client.round_trip(other.local_endpoint(), as_bytes(std::string("two"))));
    expect_stopped_clean(e);
    EXPECT_EQ(log->closed, 1);
    EXPECT_EQ(other_log->closed, 1);
}

TEST(Datagram, StopWithReceivesPostedClosesOnceAndLeavesNothing) {
    engine e;
    auto log = std::make_shared<datagram_log>();
    datagram_options options;
    options.pending_receives = 64;
    datagram_socket server = e.open_datagram(endpoint::loopback_v6(0), echo_into(log), options);
    ASSERT_TRUE(eventually([&] { return server.stats().operations_pending >= 64; }));
    EXPECT_GE(e.stats().operations_pending, 64U);
    expect_datagram_stopped_clean(e, server, *log);
    EXPECT_EQ(log->reason, make_error_code(error::engine_stopped));
    EXPECT_FALSE(server.is_open());
    EXPECT_EQ(server.send_to(endpoint::loopback_v6(9), as_bytes(std::string("late"))), error::not_connected);
    EXPECT_THROW((void)e.open_datagram(endpoint::loopback_v4(0), echo_into(log)), std::system_error);
}

// win/teardown.h, rule 4: on_close runs on a worker even when the user's close() ends the socket's
// last unit, here because its cancelled receives were all handled before close() got back from
// CancelIoEx. Failed before (on_close ran inside close(), on the caller's thread).
TEST(Datagram, OnCloseRunsOnAWorkerEvenWhenCloseEndsTheLastOperation) {
    fault_platform platform;
    engine e;
    auto log = std::make_shared<datagram_log>();
    datagram_socket server = e.open_datagram(endpoint::loopback_v4(0), echo_into(log));
    ASSERT_TRUE(eventually([&] { return server.stats().operations_pending >= 1; }));
    std::atomic<bool> only_close_left{false};
    platform.after(syscall::cancel, [&] {
        only_close_left = eventually([&] { return server.stats().operations_pending == 1; }, 10s);
    });
    server.close();
    platform.clear();
    EXPECT_TRUE(only_close_left.load()) << "the cancelled receives were not all handled while close() waited";
    ASSERT_TRUE(eventually([&] { return log->is_closed(); }));
    {
        std::lock_guard lock(log->mutex);
        EXPECT_EQ(log->closed, 1);
        EXPECT_NE(log->closed_on, std::this_thread::get_id()) << "on_close ran inside close()";
    }
    e.stop();
    EXPECT_EQ(e.stats().operations_pending, 0U);
}

TEST(Datagram, AHandleOutlivingItsEngineReportsClosed) {
    auto log = std::make_shared<datagram_log>();
    datagram_socket survivor;
    {
        engine e;
        survivor = e.open_datagram(endpoint::loopback_v4(0), echo_into(log));
        raw_udp client;
        ASSERT_TRUE(client.round_trip(survivor.local_endpoint(), as_bytes(std::string("ping"))));
    }  // ~engine: stops, closes the socket, drains
    EXPECT_FALSE(survivor.is_open());
    EXPECT_EQ(survivor.send_to(endpoint::loopback_v4(9), as_bytes(std::string("late"))), error::not_connected);
    survivor.close();
    EXPECT_EQ(survivor.stats().operations_pending, 0U);
    EXPECT_GE(survivor.stats().datagrams_received, 1U);
    std::lock_guard lock(log->mutex);
    EXPECT_EQ(log->closed, 1);
    EXPECT_EQ(log->reason, make_error_code(error::engine_stopped));
}

TEST(Datagram, StopFromInsideOnDatagramFinishesOnTheOwnersStop) {
    watchdog guard("stop from inside on_datagram", 60s);
    engine e;
    auto log = std::make_shared<datagram_log>();
    class stopping_handler : public recording_datagram_handler {
    public:
        stopping_handler(std::shared_ptr<datagram_log> l, engine& owner)
            : recording_datagram_handler(std::move(l), false), owner_(owner) {}
        void on_datagram(datagram_socket& s, const endpoint& from, gsl::span<const std::byte> data) override {
            recording_datagram_handler::on_datagram(s, from, data);
            owner_.stop();  // on a worker: only begins the stop
        }

    private:
        engine& owner_;
    };
    datagram_socket server = e.open_datagram(endpoint::loopback_v4(0), std::make_unique<stopping_handler>(log, e));
    raw_udp client;
    ASSERT_TRUE(client.send_to(server.local_endpoint(), as_bytes(std::string("stop"))));
    ASSERT_TRUE(eventually([&] { return log->is_closed(); }));
    EXPECT_EQ(log->reason, make_error_code(error::engine_stopped));
    expect_datagram_stopped_clean(e, server, *log);
}

TEST(Datagram, CloseEndsWithAnEmptyReasonAndNothingAfter) {
    engine e;
    auto log = std::make_shared<datagram_log>();
    datagram_socket server = e.open_datagram(endpoint::loopback_v4(0), echo_into(log));
    raw_udp client;
    ASSERT_TRUE(client.round_trip(server.local_endpoint(), as_bytes(std::string("hello"))));
    server.close();
    server.close();  // idempotent
    ASSERT_TRUE(eventually([&] { return log->is_closed(); }));
    EXPECT_FALSE(log->reason);
    EXPECT_TRUE(client.send_to(server.local_endpoint(), as_bytes(std::string("nobody"))));
    expect_datagram_stopped_clean(e, server, *log);
}

TEST(Datagram, ZeroByteDatagramsAndAFloodLeaveOtherPeersServed) {
    engine e;
    auto log = std::make_shared<datagram_log>();
    datagram_socket server = e.open_datagram(endpoint::loopback_v4(0), echo_into(log));
    raw_udp zero;
    ASSERT_TRUE(zero.round_trip(server.local_endpoint(), gsl::span<const std::byte>{}));
    {
        std::lock_guard lock(log->mutex);
        ASSERT_FALSE(log->datagrams.empty());
        EXPECT_TRUE(log->datagrams.front().second.empty());
    }
    // A flood from one peer that never reads its echoes: what the server holds is bounded by its
    // posted receives and send cap; excess is dropped (by the system or refused by send_to).
    {
        raw_udp flood;
        const auto junk = random_bytes(1200, 7);
        for (int i = 0; i < 3000; ++i) {
            (void)flood.send_to(server.local_endpoint(), junk);
        }
        raw_udp other;
        ASSERT_TRUE(other.round_trip(server.local_endpoint(), as_bytes(std::string("still there?")), 30));
    }
    EXPECT_TRUE(server.is_open());
    EXPECT_LE(server.stats().bytes_in_flight, datagram_options{}.send_queue_cap + 1200);
    expect_datagram_stopped_clean(e, server, *log);
}

TEST(Datagram, SendToRefusesPastTheCapWhileSendsAreInFlight) {
    fault_platform platform;
    engine e;
    auto log = std::make_shared<datagram_log>();
    datagram_options options;
    options.send_queue_cap = 100;
    datagram_socket sender = e.open_datagram(endpoint::loopback_v4(0), echo_into(log), options);
    raw_udp peer;
    // The first send is held inside WSASendTo: its 100 bytes are in flight meanwhile.
    call_hold hold(platform, test::syscall::wsa_send_to);
    hold.arm();
    std::error_code first;
    std::thread t([&] { first = sender.send_to(peer.address(), random_bytes(100, 1)); });
    ASSERT_TRUE(eventually([&] { return hold.held(); }));
    EXPECT_EQ(sender.stats().bytes_in_flight, 100U);
    EXPECT_EQ(sender.send_to(peer.address(), random_bytes(1, 2)), error::send_queue_full);
    EXPECT_EQ(sender.stats().sends_refused, 1U);
    hold.release();
    t.join();
    EXPECT_FALSE(first);
    ASSERT_TRUE(eventually([&] { return sender.stats().bytes_in_flight == 0; }));
    // With nothing in flight one datagram is always accepted, even above the cap.
    EXPECT_FALSE(sender.send_to(peer.address(), random_bytes(500, 3)));
    const auto got = peer.receive();
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->size(), 100U);
    EXPECT_EQ(sender.send_to(peer.address(), std::vector<std::byte>(65'528)), std::errc::message_size);
    expect_datagram_stopped_clean(e, sender, *log);
}

TEST(Datagram, SendFailuresAreReturnedOrCountedAndFreeTheirBytes) {
    fault_platform platform;
    engine e;
    auto log = std::make_shared<datagram_log>();
    datagram_socket sender = e.open_datagram(endpoint::loopback_v4(0), echo_into(log));
    raw_udp peer;
    // At once: the caller gets the error.
    platform.fail_nth(test::syscall::wsa_send_to, 1, WSAENETUNREACH);
    EXPECT_EQ(sender.send_to(peer.address(), as_bytes(std::string("one"))),
              std::error_code(WSAENETUNREACH, std::system_category()));
    // By completion (STATUS_HOST_UNREACHABLE): only counted, as UDP promises no delivery.
    platform.complete_nth_with(test::syscall::wsa_send_to, 1, static_cast<LONG>(0xC000023DL));
    EXPECT_FALSE(sender.send_to(peer.address(), as_bytes(std::string("two"))));
    ASSERT_TRUE(eventually([&] { return sender.stats().send_failures == 2; }));
    EXPECT_EQ(sender.stats().bytes_in_flight, 0U);
    EXPECT_EQ(sender.stats().datagrams_sent, 0U);
    // The socket goes on sending.
    EXPECT_FALSE(sender.send_to(peer.address(), as_bytes(std::string("three"))));
    const auto got = peer.receive();
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(got->data()), got->size()), "three");
    expect_datagram_stopped_clean(e, sender, *log);
}

TEST(Datagram, OptionsOutOfRangeAreRefusedWithTheFieldNamed) {
    engine e;
    const auto refused = [&](datagram_options o, const std::string& field) {
        try {
            (void)e.open_datagram(endpoint::loopback_v4(0), echo_into(std::make_shared<datagram_log>()), o);
        } catch (const std::invalid_argument& ex) {
            return std::string(ex.what()).find(field) != std::string::npos;
        }
        return false;
    };
    datagram_options o;
    o.pending_receives = 0;
    EXPECT_TRUE(refused(o, "datagram_options::pending_receives"));
    o = {};
    o.pending_receives = 1025;
    EXPECT_TRUE(refused(o, "datagram_options::pending_receives"));
    o = {};
    o.max_datagram_size = 0;
    EXPECT_TRUE(refused(o, "datagram_options::max_datagram_size"));
    o = {};
    o.max_datagram_size = 65'528;
    EXPECT_TRUE(refused(o, "datagram_options::max_datagram_size"));
    o = {};
    o.send_queue_cap = 0;
    EXPECT_TRUE(refused(o, "datagram_options::send_queue_cap"));
    EXPECT_THROW((void)e.open_datagram(endpoint::loopback_v4(0), nullptr), std::invalid_argument);
    expect_stopped_clean(e);
}

}  // namespace

}  // namespace wire::test
