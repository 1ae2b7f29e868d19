#pragma once
// A deterministic pseudo-random byte stream (SplitMix64). A connection's sender and its verifier
// each hold one with the same seed: the verifier regenerates what was sent instead of keeping a
// copy of every byte in flight, and every connection sends different bytes.
#include <gsl/span>

#include <array>
#include <cstddef>
#include <cstdint>

namespace wire::client {

class payload_stream {
public:
    explicit payload_stream(std::uint64_t seed) noexcept : state_(seed) {}

    // The seed for one stream of a run: `key` names the connection (and, in churn mode, the
    // iteration), so streams differ between connections but are the same in every run.
    [[nodiscard]] static std::uint64_t seed_for(std::uint64_t key) noexcept;

    // Writes the next out.size() bytes of the stream.
    void fill(gsl::span<std::byte> out) noexcept;
    // Consumes the next in.size() bytes of the stream; true when `in` equals them.
    [[nodiscard]] bool matches(gsl::span<const std::byte> in) noexcept;
    // Consumes `count` bytes without comparing (to stay aligned after a malformed reply).
    void skip(std::size_t count) noexcept;

private:
    [[nodiscard]] std::uint64_t next_word() noexcept;

    std::uint64_t state_;
    std::array<std::byte, 8> word_{};
    std::size_t used_ = 8;  // bytes of word_ already handed out
};

}  // namespace wire::client
