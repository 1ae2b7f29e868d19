// libFuzzer target for wire::frame_parser (native Linux build only: tests/native/CMakeLists.txt).
//
// Input layout: byte 0 chooses max_frame (low 3 bits) and the chunking (high 5 bits), byte 1
// seeds the chunk sizes, the rest is the byte stream. Each chunk is a fresh heap copy released
// as soon as the parser has returned need_more for it, so ASan sees any frame or buffered byte
// that still points into an old chunk. Every frame is checked against a reference reading of
// the stream; any broken invariant aborts.
#include <wire/frame_parser.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

#define FUZZ_CHECK(cond)                                                                      \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            std::fprintf(stderr, "frame_parser_fuzz: %s:%d: check failed: %s\n", __FILE__,    \
                         __LINE__, #cond);                                                    \
            std::abort();                                                                     \
        }                                                                                     \
    } while (false)

constexpr std::array<std::uint32_t, 8> max_frames = {
    0, 1, 3, 8, 64, 300, 4096, wire::frame_parser::default_max_frame};

std::uint32_t length_at(const std::uint8_t* p) noexcept {
    return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8U) |
           (static_cast<std::uint32_t>(p[2]) << 16U) | (static_cast<std::uint32_t>(p[3]) << 24U);
}

// Chunk sizes: mode 0 is one chunk, mode 1 one byte at a time, mode m > 1 pseudo-random sizes in
// [0, 4m] (empty chunks included) from a xorshift seeded by byte 1.
class chunker {
public:
    chunker(unsigned mode, std::uint8_t seed) noexcept : mode_(mode), state_(0x9E3779B9U ^ (seed * 0x01000193U)) {}

    std::size_t next(std::size_t left) noexcept {
        if (mode_ == 0) {
            return left;
        }
        if (mode_ == 1) {
            return left == 0 ? 0 : 1;
        }
        state_ ^= state_ << 13U;
        state_ ^= state_ >> 17U;
        state_ ^= state_ << 5U;
        const std::size_t n = state_ % (4 * mode_ + 1);
        return n < left ? n : left;
    }

private:
    unsigned mode_;
    std::uint32_t state_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) {
        return 0;
    }
    const std::uint32_t max_frame = max_frames[data[0] & 7U];
    chunker chunks(static_cast<unsigned>(data[0] >> 3U), data[1]);
    const std::uint8_t* const stream = data + 2;
    const std::size_t stream_size = size - 2;

    using status = wire::frame_parser::status;
    wire::frame_parser parser(max_frame);
    FUZZ_CHECK(parser.max_frame() == max_frame);

    std::size_t fed = 0;       // stream bytes handed to the parser
    std::size_t consumed = 0;  // stream bytes of the frames (headers and payloads) yielded so far
    status last = status::need_more;
    // Bounded so that the empty chunks of random chunking cannot loop forever.
    for (std::size_t round = 0; last == status::need_more && fed < stream_size && round < 4 * size + 8; ++round) {
        const std::size_t n = chunks.next(stream_size - fed);
        std::vector<std::byte> chunk(n);
        if (n != 0) {
            std::memcpy(chunk.data(), stream + fed, n);
        }
        fed += n;
        parser.feed(chunk);
        while ((last = parser.next()) == status::frame) {
            const auto payload = parser.payload();
            // Never longer than the limit, and exactly the frame the reference reads at `consumed`.
            FUZZ_CHECK(payload.size() <= max_frame);
            FUZZ_CHECK(consumed + wire::frame_parser::header_size + payload.size() <= fed);
            FUZZ_CHECK(length_at(stream + consumed) == payload.size());
            const auto header = wire::frame_header(static_cast<std::uint32_t>(payload.size()));
            FUZZ_CHECK(std::memcmp(header.data(), stream + consumed, header.size()) == 0);
            consumed += wire::frame_parser::header_size;
            FUZZ_CHECK(payload.empty() || std::memcmp(payload.data(), stream + consumed, payload.size()) == 0);
            consumed += payload.size();
            // Nothing of the yielded frame stays counted as buffered.
            FUZZ_CHECK(parser.buffered_bytes() <= fed - consumed);
        }
        // Memory stays bounded by the limit whatever the peer declares.
        FUZZ_CHECK(parser.buffer_capacity() <= max_frame);
        FUZZ_CHECK(parser.buffered_bytes() <= wire::frame_parser::header_size + max_frame);
        FUZZ_CHECK(last == status::need_more || last == status::too_large);
        // `chunk` is released here: nothing the parser keeps may point into it.
    }

    if (last == status::need_more) {
        // The whole chunk was used: what is not in a frame is buffered, and it is an incomplete frame.
        const std::size_t rest = fed - consumed;
        FUZZ_CHECK(parser.buffered_bytes() == rest);
        if (rest >= wire::frame_parser::header_size) {
            const std::uint32_t declared = length_at(stream + consumed);
            FUZZ_CHECK(declared <= max_frame);
            FUZZ_CHECK(declared > rest - wire::frame_parser::header_size);
        }
        FUZZ_CHECK(parser.payload().empty());
    } else {
        // too_large: the header right after the last frame declared more than the limit; the
        // parser dropped everything and stays failed, whatever it is fed.
        FUZZ_CHECK(consumed + wire::frame_parser::header_size <= fed);
        const std::uint32_t declared = length_at(stream + consumed);
        FUZZ_CHECK(declared > max_frame);
        FUZZ_CHECK(parser.declared_length() == declared);
        FUZZ_CHECK(parser.buffered_bytes() <= wire::frame_parser::header_size);
        FUZZ_CHECK(parser.buffer_capacity() == 0 || parser.buffer_capacity() <= max_frame);
        FUZZ_CHECK(parser.payload().empty());
        const std::array<std::byte, 4> more = wire::frame_header(0);
        parser.feed(more);
        FUZZ_CHECK(parser.next() == status::too_large);
        FUZZ_CHECK(parser.payload().empty());
    }
    return 0;
}
