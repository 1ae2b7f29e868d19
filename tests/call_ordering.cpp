#include "call_ordering.h"

#include <thread>

namespace wire::test {

namespace {

// The operation this thread dequeued last and is handling, and the ticket of that flight (a later
// re-issue of the same operation by another thread is another flight). nullptr: none, or not tracked.
thread_local const OVERLAPPED* handling = nullptr;
thread_local std::uint64_t handling_ticket = 0;

std::uint64_t mix(std::uint64_t x) noexcept {  // splitmix64's finaliser
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

// How long a handler that an issuer waited for pauses after releasing it: long enough for the
// woken issuer to run the code that follows its call while the handler's own call is under way.
constexpr std::chrono::milliseconds handler_pause{1};

}  // namespace

void call_ordering::start(std::uint32_t seed, double share, std::chrono::milliseconds bound) {
    {
        std::lock_guard lock(mutex_);
        seed_ = seed;
        share_ = share;
        bound_ = bound;
    }
    active_.store(true, std::memory_order_release);
}

call_ordering::choice call_ordering::decide(unsigned kind, std::uint64_t number) const noexcept {
    const std::uint64_t h = mix((std::uint64_t{seed_} << 32) ^ (std::uint64_t{kind} << 56) ^ number);
    const double r = static_cast<double>(h >> 11) * 0x1.0p-53;  // uniform in [0, 1)
    if (r < share_) {
        return choice::hold_return;
    }
    return r < 2 * share_ ? choice::hold_completion : choice::none;
}

template <typename Done>
bool call_ordering::wait_for_flight(std::unique_lock<std::mutex>& lock, const OVERLAPPED* overlapped,
                                    std::uint64_t ticket, Done done) {
    const bool finished = changed_.wait_for(lock, bound_, [&] {
        const auto it = flights_.find(overlapped);
        return it == flights_.end() || it->second.ticket != ticket || done(it->second);
    });
    if (!finished) {
        ++counts_.bounded_waits;
    }
    return finished;
}

std::uint64_t call_ordering::before_call(unsigned kind, std::uint64_t number, const OVERLAPPED* overlapped) {
    if (!active() || overlapped == nullptr) {
        return 0;
    }
    std::lock_guard lock(mutex_);
    flight f;
    f.ticket = ++next_ticket_;
    f.pick = decide(kind, number);
    flights_[overlapped] = f;  // replaces a finished flight of the same operation
    return f.ticket;
}

void call_ordering::after_call(const OVERLAPPED* overlapped, std::uint64_t ticket, bool packet_expected) {
    if (ticket == 0) {
        return;
    }
    std::unique_lock lock(mutex_);
    auto it = flights_.find(overlapped);
    if (it == flights_.end() || it->second.ticket != ticket) {
        return;  // handled and re-issued before this return: nothing of this flight is left
    }
    it->second.returned = true;
    changed_.notify_all();  // a worker holding this completion for the return goes on
    if (!packet_expected) {
        flights_.erase(it);  // no completion will be dequeued for it
        return;
    }
    if (it->second.pick == choice::hold_return && !it->second.handled) {
        ++counts_.returns_held;
        it->second.issuer_waiting = true;
        if (wait_for_flight(lock, overlapped, ticket, [](const flight& f) { return f.handled; })) {
            ++counts_.handled_first;
        }
        it = flights_.find(overlapped);
        if (it == flights_.end() || it->second.ticket != ticket) {
            return;
        }
        it->second.issuer_waiting = false;
    }
    if (it->second.handled) {
        flights_.erase(it);
    }
}

void call_ordering::after_cancel(unsigned kind, std::uint64_t number, const OVERLAPPED* overlapped) {
    if (!active() || overlapped == nullptr || decide(kind, number) != choice::hold_return) {
        return;
    }
    std::unique_lock lock(mutex_);
    const auto it = flights_.find(overlapped);
    if (it == flights_.end() || it->second.handled) {
        return;  // nothing outstanding to cancel, or already done with
    }
    const std::uint64_t ticket = it->second.ticket;
    ++counts_.returns_held;
    it->second.issuer_waiting = true;
    if (wait_for_flight(lock, overlapped, ticket, [](const flight& f) { return f.handled; })) {
        ++counts_.handled_first;
    }
    if (const auto again = flights_.find(overlapped); again != flights_.end() && again->second.ticket == ticket) {
        again->second.issuer_waiting = false;
        if (again->second.handled && again->second.returned) {
            flights_.erase(again);
        }
    }
}

void call_ordering::progress() {
    const OVERLAPPED* const overlapped = handling;
    if (overlapped == nullptr) {
        return;
    }
    handling = nullptr;
    bool issuer_waiting = false;
    {
        std::lock_guard lock(mutex_);
        const auto it = flights_.find(overlapped);
        if (it == flights_.end() || it->second.ticket != handling_ticket) {
            return;
        }
        it->second.handled = true;
        issuer_waiting = it->second.issuer_waiting;
        if (it->second.returned && !issuer_waiting) {
            flights_.erase(it);
        }
    }
    changed_.notify_all();
    if (issuer_waiting) {
        std::this_thread::sleep_for(handler_pause);
    }
}

void call_ordering::dequeued(const OVERLAPPED_ENTRY* entries, ULONG removed) {
    if (!active() || removed != 1 || entries[0].lpOverlapped == nullptr) {
        return;
    }
    const OVERLAPPED* const overlapped = entries[0].lpOverlapped;
    std::unique_lock lock(mutex_);
    const auto it = flights_.find(overlapped);
    if (it == flights_.end()) {
        return;  // a packet the seam did not see issued (posted by the platform itself)
    }
    handling = overlapped;
    handling_ticket = it->second.ticket;
    if (it->second.pick == choice::hold_completion && !it->second.returned) {
        ++counts_.completions_held;
        wait_for_flight(lock, overlapped, it->second.ticket, [](const flight& f) { return f.returned; });
    }
}

call_ordering::counts call_ordering::totals() const {
    std::lock_guard lock(mutex_);
    return counts_;
}

}  // namespace wire::test
