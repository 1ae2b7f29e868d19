#include "payload_stream.h"

#include <algorithm>
#include <cstring>

namespace wire::client {

std::uint64_t payload_stream::seed_for(std::uint64_t key) noexcept {
    // One SplitMix64 step: neighbouring keys give unrelated seeds.
    std::uint64_t z = key + 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30U)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27U)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31U);
}

std::uint64_t payload_stream::next_word() noexcept {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30U)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27U)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31U);
}

void payload_stream::fill(gsl::span<std::byte> out) noexcept {
    std::size_t at = 0;
    while (at < out.size()) {
        if (used_ == word_.size()) {
            const std::uint64_t w = next_word();
            std::memcpy(word_.data(), &w, sizeof(w));  // byte order is irrelevant: both sides agree
            used_ = 0;
        }
        const std::size_t n = std::min(word_.size() - used_, out.size() - at);
        std::memcpy(out.data() + at, word_.data() + used_, n);
        used_ += n;
        at += n;
    }
}

bool payload_stream::matches(gsl::span<const std::byte> in) noexcept {
    std::array<std::byte, 512> expected;
    bool equal = true;
    while (!in.empty()) {
        const std::size_t n = std::min(in.size(), expected.size());
        fill(gsl::span(expected).first(n));
        equal = equal && std::memcmp(expected.data(), in.data(), n) == 0;
        in = in.subspan(n);
    }
    return equal;
}

void payload_stream::skip(std::size_t count) noexcept {
    std::array<std::byte, 512> scratch;
    while (count > 0) {
        const std::size_t n = std::min(count, scratch.size());
        fill(gsl::span(scratch).first(n));
        count -= n;
    }
}

}  // namespace wire::client
