#pragma once
// Work an application hands to the engine's threads (engine::post, connection::post): a heap
// operation carrying the function through the completion port. The packet owns the item: the
// completion function that runs it also deletes it, so it lives exactly until it has been dequeued.
#include "win/operation.h"

#include <utility>

namespace wire::detail {

template <typename Function, typename Owner>
struct posted_work : operation {
    posted_work(complete_fn on_complete, Function&& fn, Owner& o) noexcept
        : operation(on_complete), work(std::move(fn)), owner(&o) {}
    Function work;
    Owner* owner;
};

}  // namespace wire::detail
