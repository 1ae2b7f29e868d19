#pragma once
// The bytes a connection has accepted from send() and not yet handed to the network.
// Platform-neutral: the Win32 side turns gathered spans into WSABUFs.
//
// Memory is a chain of fixed-capacity blocks. A block never moves or grows once allocated, so
// bytes already gathered into an outstanding WSASend stay valid while later send() calls append
// to the free tail of the same block. Not thread-safe: the connection guards it with its lock.
#include <gsl/span>

#include <cstddef>
#include <array>
#include <memory>
#include <vector>

namespace wire::detail {

class send_queue {
public:
    explicit send_queue(std::size_t block_size = 16 * 1024) noexcept : block_size_(block_size) {}

    // Copies `data` to the tail. Throws std::bad_alloc only.
    void append(gsl::span<const std::byte> data);

    // Writes spans covering the queued bytes from the front, at most out.size() of them;
    // returns how many were written.
    [[nodiscard]] std::size_t gather(gsl::span<gsl::span<const std::byte>> out) const noexcept;

    // Drops the first `count` bytes (count <= size()): they have been sent.
    void consume(std::size_t count) noexcept;

    void clear() noexcept;
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
    // Memory held, spare blocks included (zero once the queue has emptied).
    [[nodiscard]] std::size_t allocated_bytes() const noexcept;

private:
    struct block {
        std::unique_ptr<std::byte[]> data;
        std::size_t capacity = 0;
        std::size_t begin = 0;  // first byte not yet sent
        std::size_t end = 0;    // one past the last queued byte
    };

    [[nodiscard]] block take_block(std::size_t min_capacity);
    void recycle(block&& b) noexcept;

    std::size_t block_size_;
    std::size_t size_ = 0;
    // The queued blocks are blocks_[head_..]; the ones before head_ are sent and empty, and are
    // compacted away as the queue moves on. A vector, not a deque: libstdc++'s deque allocates a
    // 512-byte node and its map at construction and keeps them when cleared, which every
    // connection paid, idle or not. An empty vector holds nothing.
    std::vector<block> blocks_;
    std::size_t head_ = 0;
    std::array<block, 2> spare_;  // a few emptied blocks kept to avoid allocation churn
    std::size_t spare_count_ = 0;
};

}  // namespace wire::detail
