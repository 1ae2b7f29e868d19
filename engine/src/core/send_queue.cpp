#include "core/send_queue.h"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace wire::detail {

void send_queue::append(gsl::span<const std::byte> data) {
    if (data.empty()) {
        return;
    }
    // Everything that may throw comes first, so that a failed append leaves the queue as it was
    // (bytes copied into the tail before a throw would go out although send() reported failure).
    const std::size_t into_tail =
        head_ == blocks_.size() ? 0 : std::min(data.size(), blocks_.back().capacity - blocks_.back().end);
    const std::size_t rest = data.size() - into_tail;
    if (rest > 0) {
        block fresh = take_block(rest);  // may throw
        std::memcpy(fresh.data.get(), data.data() + into_tail, rest);
        fresh.end = rest;
        blocks_.push_back(std::move(fresh));  // may throw; the tail is untouched so far
    }
    if (into_tail > 0) {
        block& tail = blocks_[blocks_.size() - (rest > 0 ? 2 : 1)];
        std::memcpy(tail.data.get() + tail.end, data.data(), into_tail);
        tail.end += into_tail;
    }
    size_ += data.size();
}

std::size_t send_queue::gather(gsl::span<gsl::span<const std::byte>> out) const noexcept {
    std::size_t count = 0;
    for (std::size_t i = head_; i < blocks_.size(); ++i) {
        const block& b = blocks_[i];
        if (count == out.size()) {
            break;
        }
        if (b.end > b.begin) {
            out[count++] = gsl::span<const std::byte>(b.data.get() + b.begin, b.end - b.begin);
        }
    }
    return count;
}

void send_queue::consume(std::size_t count) noexcept {
    assert(count <= size_);
    size_ -= count;
    while (count > 0) {
        block& front = blocks_[head_];
        const std::size_t step = std::min(count, front.end - front.begin);
        front.begin += step;
        count -= step;
        if (front.begin == front.end && blocks_.size() - head_ > 1) {
            recycle(std::move(front));
            front = block{};  // not kept as a spare: its memory goes now
            ++head_;
        }
    }
    // Empty: give all memory back, so an idle connection holds no send buffer. Streaming keeps
    // its blocks (the queue rarely empties then); a burst after idling costs one allocation,
    // far less than the send it precedes.
    if (size_ == 0) {
        blocks_.clear();  // keeps the vector's few bytes of capacity for the next burst
        head_ = 0;
        for (std::size_t i = 0; i < spare_count_; ++i) {
            spare_[i] = block{};
        }
        spare_count_ = 0;
    } else if (head_ > 0 && head_ * 2 >= blocks_.size()) {
        // Streaming: drop the sent blocks once they are half the vector (amortised O(1) a block).
        blocks_.erase(blocks_.begin(), blocks_.begin() + static_cast<std::ptrdiff_t>(head_));
        head_ = 0;
    }
}

std::size_t send_queue::allocated_bytes() const noexcept {
    std::size_t total = 0;
    for (std::size_t i = head_; i < blocks_.size(); ++i) {
        total += blocks_[i].capacity;
    }
    for (std::size_t i = 0; i < spare_count_; ++i) {
        total += spare_[i].capacity;
    }
    return total;
}

void send_queue::clear() noexcept {
    for (std::size_t i = head_; i < blocks_.size(); ++i) {
        recycle(std::move(blocks_[i]));
    }
    blocks_.clear();
    head_ = 0;
    size_ = 0;
}

send_queue::block send_queue::take_block(std::size_t min_capacity) {
    if (min_capacity <= block_size_ && spare_count_ > 0) {
        return std::move(spare_[--spare_count_]);
    }
    const std::size_t capacity = std::max(min_capacity, block_size_);
    return block{std::make_unique_for_overwrite<std::byte[]>(capacity), capacity, 0, 0};
}

void send_queue::recycle(block&& b) noexcept {
    // Only standard-size blocks are worth keeping; one-off large ones go back to the heap.
    if (b.capacity == block_size_ && spare_count_ < spare_.size()) {
        b.begin = b.end = 0;
        spare_[spare_count_++] = std::move(b);
    }
}

}  // namespace wire::detail
