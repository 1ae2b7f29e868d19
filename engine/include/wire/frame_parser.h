#pragma once
// Incremental parser for length-prefixed frames: a 4-byte little-endian unsigned length N, then
// N bytes of payload. The stream arrives in arbitrary chunks (one per on_data call); the parser
// yields each complete frame's payload and refuses a declared length above its limit before it
// allocates anything for that frame. Platform-neutral (no Windows headers).
//
// Typical use inside connection_handler::on_data:
//
//     parser.feed(data);
//     for (;;) {
//         const auto s = parser.next();
//         if (s == wire::frame_parser::status::frame) { use(parser.payload()); continue; }
//         if (s != wire::frame_parser::status::need_more) { c.abort(wire::error::protocol_error); }
//         break;
//     }
#include <gsl/span>

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace wire {

class frame_parser {
public:
    static constexpr std::size_t header_size = 4;
    static constexpr std::uint32_t default_max_frame = 1U << 20;  // 1 MiB
    // A buffer kept between frames up to this size; a larger one (left by a large frame that
    // arrived in pieces) is released, so idle connections hold little memory.
    static constexpr std::size_t retained_capacity = 64 * 1024;

    enum class status {
        frame,          // payload() holds one complete frame
        need_more,      // the chunk is used up: feed() the next one
        too_large,      // a header declared more than max_frame bytes (sticky: the stream is unusable)
        out_of_memory,  // buffering part of a frame failed (sticky)
    };

    explicit frame_parser(std::uint32_t max_frame = default_max_frame) noexcept : max_frame_(max_frame) {}

    // Hands over the next chunk of the stream. The parser reads it in place, so the caller keeps
    // the bytes alive and unchanged until next() has returned something other than status::frame;
    // at that point the bytes of a frame the chunk did not complete have been copied. Call it only
    // then (after need_more), or on a fresh parser.
    void feed(gsl::span<const std::byte> chunk) noexcept;

    // Parses the next frame from what has been fed.
    [[nodiscard]] status next() noexcept;

    // The payload of the frame the last next() returned, valid until the next call to next() or
    // feed(). It points into the fed chunk when the whole frame was in it (no copy), else into
    // the parser's own buffer. Empty for a zero-length frame.
    [[nodiscard]] gsl::span<const std::byte> payload() const noexcept { return payload_; }

    // After status::too_large: the length the peer declared.
    [[nodiscard]] std::uint32_t declared_length() const noexcept { return length_; }
    [[nodiscard]] std::uint32_t max_frame() const noexcept { return max_frame_; }
    // Bytes of an incomplete frame held so far (header and payload). A frame already returned by
    // next() is not counted, even while payload() still shows it from the parser's buffer.
    [[nodiscard]] std::size_t buffered_bytes() const noexcept {
        return payload_in_partial_ ? 0 : header_have_ + partial_.size();
    }
    // Heap memory the parser holds; never more than max_frame (plus the fixed 4-byte header).
    [[nodiscard]] std::size_t buffer_capacity() const noexcept { return partial_.capacity(); }

private:
    [[nodiscard]] status fail(status why) noexcept;
    void release_partial() noexcept;

    std::uint32_t max_frame_;
    gsl::span<const std::byte> chunk_;    // unread rest of the fed chunk
    gsl::span<const std::byte> payload_;  // what payload() returns
    std::array<std::byte, header_size> header_{};
    std::size_t header_have_ = 0;         // header bytes collected; header_size once length_ is known
    std::uint32_t length_ = 0;            // the current frame's declared payload length
    std::vector<std::byte> partial_;      // payload bytes of a frame that spans chunks
    bool payload_in_partial_ = false;     // payload_ points into partial_: clear it on the next call
    status failure_ = status::need_more;  // need_more while healthy, else the sticky error
};

// The 4-byte little-endian header for a payload of `size` bytes.
[[nodiscard]] constexpr std::array<std::byte, frame_parser::header_size> frame_header(std::uint32_t size) noexcept {
    return {static_cast<std::byte>(size & 0xFFU), static_cast<std::byte>((size >> 8U) & 0xFFU),
            static_cast<std::byte>((size >> 16U) & 0xFFU), static_cast<std::byte>((size >> 24U) & 0xFFU)};
}

}  // namespace wire
