// The public timer handle: cancels through the engine's timer queue while the engine exists.
#include <wire/timer.h>

#include "core/timer_queue.h"
#include "win/connection_impl.h"

namespace wire {

bool timer::cancel() const noexcept {
    const auto queue = queue_.lock();
    if (!queue || id_ == 0) {
        return false;  // never set, or the engine is gone and nothing runs it any more
    }
    const bool cancelled = queue->cancel(id_);
    if (const auto owner = owner_.lock()) {
        owner->forget_timer(id_);  // a connection keeps its timers' ids to cancel them when it closes
    }
    return cancelled;
}

}  // namespace wire
