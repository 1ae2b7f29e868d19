// A seeded fault soak (issue 12, item 5). Client sessions exchange patterned streams with a
// verifying echo server in another engine, while the fault platform fails a random share of the
// system calls both engines make (with the codes Windows documents for them) and completes some
// receives and sends with a reset or an abort instead. Whatever the faults:
// - every byte comes back intact and in order, or its connection ends with a reason;
// - each connection is closed exactly once, and nothing follows on_close;
// - no byte arrives that was not sent (server side: no more than the client sent; client side:
//   no more than the server received);
// - both engines stop with no operation pending and no connection object left.
//
// The seed is printed (stdout and the test's XML property). It fixes the load (session sizes,
// chunk sizes) and the sequence of fault decisions; WIRE_SOAK_SEED=<n> replays it. Which call
// meets which decision still depends on how the threads interleave, so a replay makes the same
// faults at the same rate, not necessarily on the same connection.
#include "fault_platform.h"
#include "test_support.h"

#include <wire/error.h>

#include <cinttypes>
#include <cstdlib>
#include <cstdio>
#include <map>

namespace wire::test {
namespace {

// NTSTATUS values of the completions a reset or an abort leaves (ntstatus.h cannot be included
// beside the Windows headers without redefinitions).
constexpr LONG status_connection_reset = static_cast<LONG>(0xC000020DL);
constexpr LONG status_connection_aborted = static_cast<LONG>(0xC0000241L);
constexpr LONG status_insufficient_resources = static_cast<LONG>(0xC000009AL);

// How much work: `sessions_in_all` client connections, `slots` at a time, each sending up to
// `default_window` bytes ahead of its echo, in chunks of 1 to 64 bytes (many per WSASend) or up to 4 KiB.
constexpr std::size_t slots = 8;
constexpr std::size_t sessions_in_all = 4000;
constexpr std::uint64_t default_window = 16 * 1024;
constexpr std::uint64_t min_session_bytes = 1024;
constexpr std::uint64_t default_max_session_bytes = 96 * 1024;
constexpr std::uint64_t max_chunk = 4096;
// The ordering soak: each held call waits for another worker, so fewer sessions; a window over
// four send-queue blocks (64 KiB), so that sends gather more WSABUFs than a send keeps inline.
constexpr std::size_t ordering_sessions = 1000;
constexpr std::uint64_t ordering_window = 256 * 1024;
constexpr std::uint64_t ordering_max_session_bytes = 512 * 1024;

// The share of calls failed at once, per listed error. Data-path calls (WSASend, WSARecv) carry
// three errors each, so about one in 300 fails; set-up and control calls (sockets, connects,
// accepts, posts, shutdowns) are fewer, so each listed error takes a larger share of them. With
// the completion faults below, roughly a third of the sessions end on a fault: work progresses,
// and both outcomes are checked hundreds of times.
constexpr double data_fault_share = 0.001;
constexpr double control_fault_share = 0.01;
// One overlapped receive or send in this many (on average) completes with a reset, an abort or a
// shortage instead of being made.
constexpr std::uint64_t completion_fault_gap = 400;

std::uint32_t soak_seed() {
    if (const auto seed = environment_number("WIRE_SOAK_SEED")) {
        return static_cast<std::uint32_t>(*seed);
    }
    // A new seed each run, so that CI explores: the print below is what replays a failure.
    return static_cast<std::uint32_t>(std::random_device{}());
}

// Byte `offset` of session `id`'s stream: the first four bytes are the id (so the server can check
// what it receives without being told), the rest a hash of (id, offset), so that a lost, repeated,
// reordered or foreign byte shows.
std::byte stream_byte(std::uint32_t id, std::uint64_t offset) {
    if (offset < 4) {
        return static_cast<std::byte>((id >> (8 * offset)) & 0xFF);
    }
    std::uint64_t x = (std::uint64_t{id} << 40) ^ offset;  // splitmix64's finaliser
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    x ^= x >> 31;
    return static_cast<std::byte>(x & 0xFF);
}

// Client sessions closed so far, in order, for the driver to start the next ones.
struct closures {
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<std::size_t> slots;  // the slot of each session closed, in closing order

    void add(std::size_t slot) {
        {
            std::lock_guard lock(mutex);
            slots.push_back(slot);
        }
        changed.notify_all();
    }
};

// What one connection end saw, guarded by its mutex.
struct end_record {
    std::mutex mutex;
    std::uint32_t id = 0;
    std::size_t slot = 0;        // client side: where the driver keeps its handle
    std::uint64_t sent = 0;
    std::uint64_t received = 0;  // bytes checked against the pattern, in order
    std::uint64_t target = 0;    // client side: the session's length
    bool mismatch = false;
    bool closing = false;        // client side: all echoed, close() asked for
    int opened = 0;
    int closed = 0;
    int events_after_close = 0;
    std::error_code reason;

    // Checks `data` as the next bytes of the stream; the first four name it (server side).
    void check(gsl::span<const std::byte> data, bool learn_id) {
        for (const std::byte b : data) {
            if (learn_id && received < 4) {
                id |= std::to_integer<std::uint32_t>(b) << (8 * received);
            } else if (b != stream_byte(id, received)) {
                mismatch = true;
            }
            ++received;
        }
    }
};

// Sends back what it receives after checking it; a refused send waits for on_drained with
// receiving paused (as test_support's echo_handler).
class verifying_echo : public connection_handler {
public:
    explicit verifying_echo(std::shared_ptr<end_record> record) : record_(std::move(record)) {}

    void on_open(connection&) override {
        std::lock_guard lock(record_->mutex);
        ++record_->opened;
    }
    void on_data(connection& c, gsl::span<const std::byte> data) override {
        std::lock_guard lock(record_->mutex);
        record_->events_after_close += record_->closed;
        record_->check(data, true);
        if (c.send(data) == error::send_queue_full) {
            pending_.assign(data.begin(), data.end());
            c.pause_receiving();
        }
    }
    void on_drained(connection& c) override {
        std::lock_guard lock(record_->mutex);
        record_->events_after_close += record_->closed;
        if (!pending_.empty() && !c.send(pending_)) {
            pending_.clear();
            c.resume_receiving();
        }
    }
    void on_close(connection&, std::error_code reason) override {
        std::lock_guard lock(record_->mutex);
        ++record_->closed;
        record_->reason = reason;
    }

private:
    std::shared_ptr<end_record> record_;
    std::vector<std::byte> pending_;
};

// One client session: sends its stream in chunks of seeded sizes, at most `window` ahead of the
// echo, checks the echo, and closes gracefully once all of it is back.
class session_client : public connection_handler {
public:
    session_client(std::shared_ptr<end_record> record, std::uint32_t chunk_seed, std::uint64_t window, closures& done)
        : record_(std::move(record)), chunks_(chunk_seed), window_(window), done_(done) {}

    void on_open(connection& c) override {
        std::lock_guard lock(record_->mutex);
        ++record_->opened;
        pump(c);
    }
    void on_data(connection& c, gsl::span<const std::byte> data) override {
        std::lock_guard lock(record_->mutex);
        end_record& r = *record_;
        r.events_after_close += r.closed;
        if (r.received + data.size() > r.sent) {
            r.mismatch = true;  // more came back than was sent
        }
        r.check(data, false);
        if (r.received >= r.target && !r.closing) {
            r.closing = true;
            c.close();
            return;
        }
        pump(c);
    }
    void on_drained(connection& c) override {
        std::lock_guard lock(record_->mutex);
        record_->events_after_close += record_->closed;
        pump(c);
    }
    void on_close(connection&, std::error_code reason) override {
        {
            std::lock_guard lock(record_->mutex);
            ++record_->closed;
            record_->reason = reason;
        }
        done_.add(record_->slot);
    }

private:
    // Called with the record's lock held.
    void pump(connection& c) {
        end_record& r = *record_;
        while (r.sent < r.target && r.sent - r.received < window_) {
            const std::uint64_t limit = (chunks_() & 1) != 0 ? 64 : max_chunk;
            const std::uint64_t size = std::min<std::uint64_t>(1 + chunks_() % limit, r.target - r.sent);
            std::vector<std::byte> chunk(size);
            for (std::uint64_t i = 0; i < size; ++i) {
                chunk[i] = stream_byte(r.id, r.sent + i);
            }
            if (c.send(chunk)) {
                return;  // full (on_drained calls again) or closed (on_close follows)
            }
            r.sent += size;
        }
    }

    std::shared_ptr<end_record> record_;
    std::mt19937 chunks_;
    std::uint64_t window_;
    closures& done_;
};

std::string describe(const end_record& r) {
    return "session " + std::to_string(r.id) + ": sent " + std::to_string(r.sent) + " of " + std::to_string(r.target) +
           ", checked " + std::to_string(r.received) + ", opened " + std::to_string(r.opened) + ", closed " +
           std::to_string(r.closed) + ", reason '" + r.reason.message() + "'";
}

// What one soak run does: how many sessions, whether calls fail, whether the orders of calls'
// returns and their completions are explored (call_ordering.h).
struct soak_plan {
    std::size_t sessions = sessions_in_all;
    std::uint64_t window = default_window;
    std::uint64_t max_session_bytes = default_max_session_bytes;
    bool faults = true;
    bool explore_orderings = false;
};

void run_soak(const soak_plan& plan) {
    const std::uint32_t seed = soak_seed();
    ::testing::Test::RecordProperty("seed", std::to_string(seed));
    std::printf("soak seed %" PRIu32 " (WIRE_SOAK_SEED=%" PRIu32 " replays it)\n", seed, seed);
    std::fflush(stdout);
    std::mt19937 load(seed);

    fault_platform platform;
    if (plan.explore_orderings) {
        ::testing::Test::RecordProperty("ordering_seed", std::to_string(platform.explore_orderings(0.1, 10ms)));
    }
    closures done;
    std::mutex server_mutex;
    std::vector<std::shared_ptr<end_record>> server_ends;

    // The two engines take different paths, so that the faults meet each of them.
    engine_options server_options;
    server_options.worker_threads = 2;
    server_options.receive_park_after = 5ms;   // quiet receives are parked (cancelled) amid the faults
    server_options.max_inline_completions = 2;  // inline runs yield through the port often: many posts
    engine_options client_options;
    client_options.worker_threads = 2;
    client_options.receive = receive_mode::zero_byte;
    client_options.skip_completion_port_on_success = false;  // every success comes through the port
    auto server = std::make_unique<engine>(server_options);
    auto client = std::make_unique<engine>(client_options);
    listener l = server->listen(endpoint::loopback_v4(0), [&] {
        auto record = std::make_shared<end_record>();
        {
            std::lock_guard lock(server_mutex);
            server_ends.push_back(record);
        }
        return std::make_unique<verifying_echo>(record);
    });
    const endpoint address = l.local_endpoint();

    // Completions first: a call both rules pick completes with the status rather than failing.
    std::vector<LONG> statuses{status_connection_reset, status_connection_aborted, status_insufficient_resources};
    for (const syscall which : {syscall::wsa_recv, syscall::wsa_send}) {
        if (!plan.faults) {
            break;
        }
        std::uint64_t nth = 0;
        for (int i = 0; i < 200; ++i) {
            nth += completion_fault_gap / 2 + load() % completion_fault_gap;
            platform.complete_nth_with(which, nth, statuses[load() % statuses.size()]);
        }
    }
    if (plan.faults) {
    platform.fail_randomly(seed, data_fault_share,
                           {
                               {syscall::wsa_send, WSAENOBUFS},
                               {syscall::wsa_send, WSAECONNRESET},
                               {syscall::wsa_send, WSAENETDOWN},
                               {syscall::wsa_recv, WSAENOBUFS},
                               {syscall::wsa_recv, WSAECONNRESET},
                               {syscall::wsa_recv, WSAENETDOWN},
                           });
    platform.fail_randomly(seed, control_fault_share,
                           {
                               {syscall::accept_ex, WSAENOBUFS},
                               {syscall::accept_ex, WSAENETDOWN},
                               {syscall::connect_ex, WSAENOBUFS},
                               {syscall::connect_ex, WSAENETUNREACH},
                               {syscall::wsa_socket, WSAENOBUFS},
                               {syscall::wsa_socket, WSAEMFILE},
                               {syscall::bind, WSAENOBUFS},
                               {syscall::setsockopt, WSAENETDOWN},
                               {syscall::shutdown, WSAENETDOWN},
                               {syscall::associate, ERROR_NO_SYSTEM_RESOURCES},
                               {syscall::post, ERROR_NO_SYSTEM_RESOURCES},
                           });
    }
    // Not faulted: CancelIoEx (it fails on Windows only when there is nothing to cancel, and a
    // refused cancel leaves a receive pending until the peer acts, which this load never does for
    // a connection its client has given up) and the dequeue (Faults.AFailingDequeueDoesNotEndTheWorker).

    // The driver holds a handle on each running session (one per slot), dropped when the slot's
    // next session starts: handles outlive on_close, as in an application.
    std::vector<std::shared_ptr<end_record>> client_ends;
    std::vector<connection> handles(slots);
    const auto start_session = [&](std::size_t slot) {
        auto record = std::make_shared<end_record>();
        record->id = static_cast<std::uint32_t>(client_ends.size() + 1);
        record->slot = slot;
        record->target = min_session_bytes + load() % (plan.max_session_bytes - min_session_bytes + 1);
        client_ends.push_back(record);
        handles[slot] = client->connect(address, std::make_unique<session_client>(record, load(), plan.window, done));
    };
    for (std::size_t slot = 0; slot < slots; ++slot) {
        start_session(slot);
    }
    // Each client closure starts the next session in its slot until all have run. A session that
    // neither finishes nor closes would stall this loop: the bound only turns a hang into a failure.
    std::size_t client_closures = 0;
    bool stalled = false;
    while (client_closures < plan.sessions && !stalled) {
        std::vector<std::size_t> freed;
        {
            std::unique_lock lock(done.mutex);
            stalled = !done.changed.wait_for(lock, 30s, [&] { return done.slots.size() > client_closures; });
            freed.assign(done.slots.begin() + static_cast<std::ptrdiff_t>(client_closures), done.slots.end());
        }
        for (const std::size_t slot : freed) {
            ++client_closures;
            if (client_ends.size() < plan.sessions) {
                start_session(slot);
            }
        }
    }
    if (stalled) {
        for (const auto& r : client_ends) {
            std::lock_guard lock(r->mutex);
            if (r->closed == 0) {
                ADD_FAILURE() << "stalled: " << describe(*r);
            }
        }
    }
    // Each server end closes once its client has gone (end of stream or reset), without stop().
    const bool servers_closed = eventually([&] { return server->stats().connections_open == 0; });
    EXPECT_TRUE(servers_closed) << server->stats().connections_open << " server connections outlived their clients";

    handles.clear();
    l = {};
    client->stop();
    server->stop();
    const statistics client_stats = client->stats();
    const statistics server_stats = server->stats();
    EXPECT_EQ(client_stats.operations_pending, 0U);
    EXPECT_EQ(client_stats.connection_objects, 0U);
    EXPECT_EQ(server_stats.operations_pending, 0U);
    EXPECT_EQ(server_stats.connection_objects, 0U);

    // Client sessions: whole and closed, or closed with a reason; never a wrong byte.
    std::map<std::uint32_t, std::shared_ptr<end_record>> by_id;
    std::map<std::string, int> reasons;
    std::size_t complete = 0;
    std::uint64_t bytes_echoed = 0;
    for (const auto& r : client_ends) {
        std::lock_guard lock(r->mutex);
        by_id[r->id] = r;
        EXPECT_EQ(r->closed, 1) << describe(*r);
        EXPECT_EQ(r->events_after_close, 0) << describe(*r);
        EXPECT_FALSE(r->mismatch) << describe(*r);
        EXPECT_LE(r->received, r->sent) << describe(*r);
        EXPECT_LE(r->sent, r->target) << describe(*r);
        EXPECT_LE(r->opened, 1) << describe(*r);
        if (r->received == r->target) {
            ++complete;
        } else {
            EXPECT_TRUE(r->reason) << "bytes missing without a reason: " << describe(*r);
        }
        bytes_echoed += r->received;
        ++reasons[r->reason ? r->reason.category().name() + std::string(" ") + std::to_string(r->reason.value()) + " " +
                                  r->reason.message()
                            : std::string("(none)")];
    }
    // Server ends: each closed once with a reason (it never closes first), checked every byte, and
    // received no more than its client sent and no less than its client got back.
    std::size_t server_known = 0;
    for (const auto& s : server_ends) {
        std::lock_guard lock(s->mutex);
        EXPECT_EQ(s->closed, 1) << "server end of " << describe(*s);
        EXPECT_EQ(s->events_after_close, 0) << "server end of " << describe(*s);
        EXPECT_FALSE(s->mismatch) << "server end of " << describe(*s);
        EXPECT_TRUE(s->reason) << "server end of " << describe(*s);
        if (s->received < 4) {
            continue;  // never learnt which session it served
        }
        const auto found = by_id.find(s->id);
        if (found == by_id.end()) {
            ADD_FAILURE() << "server end of an unknown session: " << describe(*s);
            continue;
        }
        ++server_known;
        std::lock_guard client_lock(found->second->mutex);
        EXPECT_LE(s->received, found->second->sent) << describe(*found->second);
        EXPECT_LE(found->second->received, s->received) << describe(*found->second);
    }

    std::uint64_t injected = 0;
    for (unsigned k = 0; k < static_cast<unsigned>(syscall::count_); ++k) {
        injected += platform.injected(static_cast<syscall>(k));
    }
    std::printf("sessions %zu: %zu complete, %zu ended early; %zu server ends matched; %" PRIu64 " bytes echoed\n",
                client_ends.size(), complete, client_ends.size() - complete, server_known, bytes_echoed);
    std::printf("faults injected %" PRIu64 " over %" PRIu64 " WSASend, %" PRIu64 " WSARecv and %" PRIu64
                " posts: send %" PRIu64
                ", receive %" PRIu64 ", accept %" PRIu64 ", connect %" PRIu64 ", socket %" PRIu64 ", post %" PRIu64
                ", other %" PRIu64 "\n",
                injected, platform.calls(syscall::wsa_send), platform.calls(syscall::wsa_recv), platform.calls(syscall::post),
                platform.injected(syscall::wsa_send), platform.injected(syscall::wsa_recv),
                platform.injected(syscall::accept_ex), platform.injected(syscall::connect_ex),
                platform.injected(syscall::wsa_socket), platform.injected(syscall::post),
                platform.injected(syscall::bind) + platform.injected(syscall::setsockopt) +
                    platform.injected(syscall::shutdown) + platform.injected(syscall::associate));
    std::printf("engines: accept failures %" PRIu64 ", connect failures %" PRIu64 ", post failures %" PRIu64
                ", receives parked %" PRIu64 "; client session reasons:\n",
                server_stats.accept_failures, client_stats.connect_failures,
                client_stats.post_failures + server_stats.post_failures, server_stats.receives_parked);
    for (const auto& [reason, count] : reasons) {
        std::printf("  %3d x %s\n", count, reason.c_str());
    }
    std::fflush(stdout);
    EXPECT_EQ(client_stats.send_overreports + server_stats.send_overreports, 0U);
    // The load did run, and the faults (or the orderings) did reach it.
    EXPECT_EQ(client_ends.size(), plan.sessions);
    EXPECT_GT(complete, 0U) << "no session completed: the fault share leaves no progress";
    if (plan.faults) {
        EXPECT_LT(complete, client_ends.size()) << "no session met a fault";
        EXPECT_GT(platform.injected(syscall::wsa_send) + platform.injected(syscall::wsa_recv), 0U);
    } else {
        EXPECT_EQ(complete, client_ends.size()) << "without faults every session completes";
    }
    if (plan.explore_orderings) {
        const call_ordering::counts orders = platform.orderings();
        std::printf("orderings: %" PRIu64 " returns held (%" PRIu64 " saw their completion handled first), %" PRIu64
                    " completions held for their call's return, %" PRIu64 " waits ended on their bound\n",
                    orders.returns_held, orders.handled_first, orders.completions_held, orders.bounded_waits);
        std::fflush(stdout);
        // (Completions held for their call are rare: most calls return before their packet is out.)
        EXPECT_GT(orders.handled_first, 0U) << "no completion was handled before its call returned";
    }

    client.reset();
    server.reset();
}

TEST(FaultSoak, EveryByteArrivesIntactOrItsConnectionClosesWithAReason) { run_soak(soak_plan{}); }

// The ordering soak's plan (the constants above), with or without the fault soak's faults.
soak_plan ordering_plan(bool faults) {
    return soak_plan{.sessions = ordering_sessions,
                     .window = ordering_window,
                     .max_session_bytes = ordering_max_session_bytes,
                     .faults = faults,
                     .explore_orderings = true};
}

// The same sessions with no faults, while the seam holds a share of the calls' returns until
// their completions were handled on another worker (and completions until their calls returned):
// the server completes inline where it can (skip-on-success), the client always through the port.
// Every stream must come back whole.
TEST(OrderingSoak, EveryByteArrivesIntactWhateverOrderCallsAndCompletionsMeet) { run_soak(ordering_plan(false)); }

// The fault soak's faults and the orderings together: every byte intact or its connection closed
// with a reason, whatever order calls, completions and failures meet in.
TEST(OrderingSoak, FaultsMetInAnyOrderLoseNoByteWithoutAReason) { run_soak(ordering_plan(true)); }

}  // namespace
}  // namespace wire::test
