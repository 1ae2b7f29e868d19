#pragma once
// The one teardown rule for every engine object that owns a socket: connections
// (connection_impl.h), listeners (listener_impl.h) and datagram sockets (datagram_impl.h).
//
// 1. Units. The object counts one unit for each operation the kernel holds (from just before its
//    call until its completion has been handled), each system call in flight on its handle, each
//    packet it posted to itself and each callback run outside an operation's handling. Its
//    registry's reference (object_registry.h) keeps it alive while any unit is counted, and the
//    holder of a unit may use the socket handle without the object's lock.
// 2. Closing. close() (or a failure) marks it closed under its lock, so nothing new starts, and
//    cancels what is outstanding by name (CancelIoEx with the operation's OVERLAPPED, or on the
//    object's own handle) after the unlock. A call that raced the close cancels itself.
// 3. The handle. A listener's or datagram socket's handle closes as soon as it is closed and no
//    call in flight uses it (usually inside close(), so the port stops taking work when close()
//    returns). A connection keeps its handle until it finalizes, since the socket may be recycled.
// 4. Finalizing. When it is closed and no unit is left, the object finalizes, always on a worker:
//    inline when its last unit ends on one (connection), through a packet it posts to itself
//    otherwise (every listener and datagram socket: their last unit may end inside a user's
//    call). Finalizing runs on_close (connections, datagram sockets), gives memory back and
//    leaves the registry: the object's last use of the engine. So on_close never runs inside a
//    user's call, and the engine may be destroyed while user handles live.
//
// teardown_count keeps rules 1 to 4 for the listener and the datagram socket; the connection
// keeps the same count (busy_) beside its state machine (connection_state.h).
#include "win/engine_counters.h"

namespace wire::detail {

// Guarded by its owner's lock: every member is called with it held.
class teardown_count {
public:
    explicit teardown_count(engine_counters::counter& operations_pending) noexcept : gauge_(operations_pending) {}
    teardown_count(const teardown_count&) = delete;
    teardown_count& operator=(const teardown_count&) = delete;

    [[nodiscard]] bool closed() const noexcept { return stage_ != stage::open; }
    [[nodiscard]] bool finalized() const noexcept { return stage_ == stage::finalized; }
    [[nodiscard]] unsigned units() const noexcept { return units_; }

    // A system call about to be made on the handle without the lock: false once closed.
    // Counts the call (a unit, and a user of the handle).
    [[nodiscard]] bool begin_issue() noexcept {
        if (closed()) {
            return false;
        }
        ++issuing_;
        add_unit();
        return true;
    }
    // A call that hands a new operation to the kernel: counts the call and the operation's unit.
    [[nodiscard]] bool begin_operation() noexcept {
        if (!begin_issue()) {
            return false;
        }
        add_unit();
        return true;
    }
    // One more unit: the operation a call hands to the kernel, or a posted packet.
    void add_unit() noexcept {
        ++units_;
        engine_counters::add(gauge_);
    }
    // Marks it closed and counts the cancels as a call on the handle: false when closed already.
    [[nodiscard]] bool begin_close() noexcept {
        if (closed()) {
            return false;
        }
        stage_ = stage::closing;
        ++issuing_;
        add_unit();
        return true;
    }
    // Ends a call counted by begin_issue or begin_close (not its unit: end_unit). True when the
    // handle may close now: closed, and no call uses it.
    [[nodiscard]] bool end_issue() noexcept {
        --issuing_;
        return closed() && issuing_ == 0;
    }
    // Ends a unit. True, once, when the object must finalize now: closed, and none is left.
    [[nodiscard]] bool end_unit() noexcept {
        --units_;
        engine_counters::sub(gauge_);
        if (stage_ != stage::closing || units_ != 0) {
            return false;
        }
        stage_ = stage::finalized;
        return true;
    }

private:
    enum class stage : unsigned char { open, closing, finalized };
    engine_counters::counter& gauge_;
    stage stage_ = stage::open;
    unsigned units_ = 0;
    unsigned issuing_ = 0;
};

}  // namespace wire::detail
