#pragma once
// Sockets recycled with DisconnectEx(TF_REUSE_SOCKET), kept for the next AcceptEx or ConnectEx so
// churn costs fewer socket creations and port associations.
//
// Support is detected, not assumed: each use (accept, connect) starts "unknown" and becomes
// "supported" after the first recycled socket that worked. A recycled socket that fails costs
// that one socket (the call goes on with a new one), not the feature: only max_failure_streak
// failures in a row with no success between them mark the use "unsupported" (Wine 8: ConnectEx
// on a reused socket always fails with WSAEISCONN), and no more sockets are taken for it.
//
// Only sockets closed passively (the peer's FIN came first) are recycled: they have no TIME_WAIT,
// so DisconnectEx completes at once on Windows. Whether it completes at all is learnt from the
// first one (the probe; no other is issued meanwhile). On Windows it completes when the
// transport is done (the peer's ACK of our FIN, retransmissions), so a slow peer can make it
// late: a probe not completed after probe_timeout only pauses recycling ("overdue": no more
// DisconnectEx, no explicit FINs) until it completes, which then turns it on. Under Wine 8 it
// never completes, even when cancelled or closed: recycling stays paused, and stop() abandons
// that one operation rather than free an OVERLAPPED the kernel could still write to.
//
// A recycled socket goes back only to the call it came from: accepted sockets to AcceptEx,
// connected ones to ConnectEx. Microsoft's ConnectEx documentation: after
// DisconnectEx(TF_REUSE_SOCKET) a connected socket is "not connected, but still bound" and cannot
// serve AcceptEx, whose accept socket must be neither bound nor connected; and an accepted socket
// keeps the listener's local port, which a ConnectEx must not reuse.
//
// The whole recycling policy lives here: which closed connections are eligible (eligible()),
// whether they still need an explicit FIN (needs_explicit_fin()), and what each use showed.
//
// Ownership: a socket being disconnected lives in a heap disconnect_operation owned by in_flight_
// from DisconnectEx until its completion is handled. stop() cancels those and waits for them
// before the workers leave.
#include <wire/options.h>

#include "core/slim_mutex.h"
#include "core/timer_queue.h"
#include "win/extensions.h"

#include "win/operation.h"
#include "win/unique_socket.h"
#include "win/winsock.h"

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <optional>
#include <chrono>
#include <cstdint>
#include <map>
#include <vector>

namespace wire::detail {

enum class reuse_use { accept, connect };

struct pooled_socket {
    unique_socket socket;
    bool skips_port = false;  // FILE_SKIP_COMPLETION_PORT_ON_SUCCESS was set when it was associated
    reuse_use origin = reuse_use::accept;  // the call that produced it, and the only one it serves
};

// How a connection ended, as far as recycling its socket is concerned.
struct close_facts {
    bool abortive = false;          // reset, failed or cancelled
    bool peer_closed_first = false;  // the peer's FIN arrived before ours left
    bool fin_sent = false;          // our FIN left (shutdown or closesocket's graceful close)
    bool fin_by_shutdown = false;   // ... and it left with shutdown(), so DisconnectEx may follow
};

class socket_pool {
public:
    socket_pool(const engine_options& options, const extension_functions& extensions, timer_queue& timers) noexcept
        : options_(options), extensions_(extensions), timers_(timers) {}
    ~socket_pool();
    socket_pool(const socket_pool&) = delete;
    socket_pool& operator=(const socket_pool&) = delete;

    // Whether a connection that ended this way may give its socket back: both FINs exchanged,
    // the peer's first (so no TIME_WAIT on this side), ours with shutdown(), nothing reset.
    [[nodiscard]] static bool eligible(const close_facts& facts) noexcept {
        return !facts.abortive && facts.peer_closed_first && facts.fin_by_shutdown;
    }
    // Whether a connection whose peer closed first should still send its FIN with shutdown():
    // only when recycle() could take its socket (DisconnectEx is only issued once our FIN has
    // left). Otherwise closesocket's graceful close sends the FIN and the call is saved: when
    // recycling is off or known not to work, and while the probe is unanswered, since no other
    // socket is recycled meanwhile (under Wine 8, whose DisconnectEx never completes, that was one
    // shutdown per connection for the probe's first 2 s).
    [[nodiscard]] bool needs_explicit_fin(reuse_use origin) const noexcept {
        return may_recycle(origin) && !probing_.load();
    }

    // Starts DisconnectEx(TF_REUSE_SOCKET) on an eligible connection's socket; closes it
    // instead when recycling is off, unsupported, or the pool is full.
    void recycle(unique_socket socket, bool ipv6, bool skips_port, reuse_use origin) noexcept;
    // Whether recycle() might keep a socket of this origin (false once it is known it never will).
    [[nodiscard]] bool may_recycle(reuse_use origin) const noexcept;
    // Whether DisconnectEx(TF_REUSE_SOCKET) completes here (false while unknown or overdue).
    [[nodiscard]] bool disconnect_completes() const noexcept { return disconnect_ == support::supported; }
    [[nodiscard]] bool disconnect_probed() const noexcept { return disconnect_ != support::unknown; }

    // A recycled socket for the given use, or nothing (pool empty, or reuse unsupported).
    [[nodiscard]] std::optional<pooled_socket> take(bool ipv6, reuse_use use) noexcept;

    // What a use of a recycled socket showed.
    void report(reuse_use use, bool worked) noexcept;
    [[nodiscard]] bool supported(reuse_use use) const noexcept;

    // Cancels outstanding disconnects and waits until their completions have been handled.
    void drain() noexcept;
    void clear() noexcept;

private:
    struct disconnect_operation : operation {
        disconnect_operation(socket_pool& p, std::uint64_t n, unique_socket s, bool v6, bool skips, reuse_use use) noexcept
            : operation(&on_disconnected), pool(&p), id(n), socket(std::move(s)), ipv6(v6), skips_port(skips), origin(use) {}
        socket_pool* pool;
        std::uint64_t id;
        unique_socket socket;
        bool ipv6;
        bool skips_port;
        reuse_use origin;
        // Completed while drain() was cancelling (guarded by mutex_): drain finishes it after.
        bool deferred = false;
        DWORD deferred_error = ERROR_SUCCESS;
    };
    // overdue: only for disconnect_, a probe that has not completed yet after probe_timeout.
    enum class support : int { unknown, supported, unsupported, overdue };
    static constexpr unsigned max_failure_streak = 3;
    static constexpr std::size_t max_pooled = 256;  // per family: bounded, whatever the churn

    static constexpr std::chrono::seconds probe_timeout{2};

    static void on_disconnected(operation& op, DWORD error, DWORD bytes) noexcept;
    void probe_expired(std::uint64_t id) noexcept;
    void finish(disconnect_operation* op, DWORD error) noexcept;
    std::atomic<support>& state(reuse_use use) noexcept { return use == reuse_use::accept ? accept_ : connect_; }
    [[nodiscard]] const std::atomic<support>& state(reuse_use use) const noexcept {
        return use == reuse_use::accept ? accept_ : connect_;
    }

    const engine_options& options_;
    const extension_functions& extensions_;
    timer_queue& timers_;
    std::atomic<support> accept_{support::unknown};
    std::atomic<support> connect_{support::unknown};
    std::atomic<support> disconnect_{support::unknown};
    std::atomic<bool> probing_{false};  // the probe is in flight and unanswered (set under mutex_)
    std::atomic<unsigned> accept_failures_{0};  // failures in a row, per use
    std::atomic<unsigned> connect_failures_{0};
    unsigned disconnect_failures_ = 0;  // guarded by mutex_
    std::uint64_t next_id_ = 1;
    slim_mutex mutex_;
    std::condition_variable_any idle_;
    std::vector<pooled_socket> pooled_[2];  // [ipv6]
    std::map<std::uint64_t, disconnect_operation*> in_flight_;
    bool draining_ = false;
    // drain() is cancelling with the lock released: finish() defers, so in_flight_ stays as it is.
    bool cancelling_ = false;
};

}  // namespace wire::detail
