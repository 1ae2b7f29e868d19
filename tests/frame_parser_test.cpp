// The length-prefixed frame parser: any split of the stream yields the same frames, and an
// oversized length is refused before anything is allocated for it.
#include <wire/frame_parser.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace wire {
namespace {

using bytes = std::vector<std::byte>;
using status = frame_parser::status;

bytes payload_of(std::size_t size, std::uint8_t seed) {
    bytes out(size);
    for (std::size_t i = 0; i < size; ++i) {
        out[i] = static_cast<std::byte>((seed + i * 7) & 0xFF);
    }
    return out;
}

bytes frame_of(const bytes& payload) {
    const auto header = frame_header(static_cast<std::uint32_t>(payload.size()));
    // Sized first, then copied: GCC 12 misreads an insert after a 4-byte construction (-Warray-bounds).
    bytes out(header.size() + payload.size());
    std::copy(header.begin(), header.end(), out.begin());
    std::copy(payload.begin(), payload.end(), out.begin() + static_cast<std::ptrdiff_t>(header.size()));
    return out;
}

bytes raw_header(std::uint32_t length) {
    const auto header = frame_header(length);
    return {header.begin(), header.end()};
}

// Everything the parser yields for `stream` fed in chunks of `step` bytes, as copies; stops at
// the first error and reports it.
struct parse_result {
    std::vector<bytes> frames;
    status last = status::need_more;
};

parse_result parse_in_steps(frame_parser& parser, const bytes& stream, std::size_t step) {
    parse_result result;
    for (std::size_t at = 0; at < stream.size(); at += step) {
        const std::size_t n = std::min(step, stream.size() - at);
        // A copy per chunk, released after it is parsed: catches frames that outlive their chunk.
        const bytes chunk(stream.begin() + static_cast<std::ptrdiff_t>(at),
                          stream.begin() + static_cast<std::ptrdiff_t>(at + n));
        parser.feed(chunk);
        for (;;) {
            result.last = parser.next();
            if (result.last != status::frame) {
                break;
            }
            result.frames.emplace_back(parser.payload().begin(), parser.payload().end());
        }
        if (result.last != status::need_more) {
            break;
        }
    }
    return result;
}

TEST(FrameParser, FreshParserNeedsMore) {
    frame_parser parser;
    EXPECT_EQ(parser.next(), status::need_more);
    EXPECT_EQ(parser.buffered_bytes(), 0U);
}

TEST(FrameParser, OneFrameInOneChunkIsNotCopied) {
    const bytes stream = frame_of(payload_of(100, 1));
    frame_parser parser;
    parser.feed(stream);
    ASSERT_EQ(parser.next(), status::frame);
    EXPECT_EQ(parser.payload().data(), stream.data() + 4);  // a view into the chunk
    EXPECT_EQ(parser.payload().size(), 100U);
    EXPECT_EQ(parser.next(), status::need_more);
    EXPECT_EQ(parser.buffer_capacity(), 0U);
}

TEST(FrameParser, EverySplitPointByteByByte) {
    std::vector<bytes> payloads = {payload_of(1, 1), payload_of(0, 0), payload_of(300, 2), payload_of(5, 3),
                                   payload_of(0, 0), payload_of(4, 4)};
    bytes stream;
    for (const auto& p : payloads) {
        const bytes f = frame_of(p);
        stream.insert(stream.end(), f.begin(), f.end());
    }
    for (std::size_t step = 1; step <= stream.size(); ++step) {
        frame_parser parser(1024);
        const parse_result r = parse_in_steps(parser, stream, step);
        EXPECT_EQ(r.last, status::need_more) << "step " << step;
        EXPECT_EQ(r.frames, payloads) << "step " << step;
        EXPECT_EQ(parser.buffered_bytes(), 0U) << "step " << step;
    }
}

TEST(FrameParser, SplitAtEveryPositionOfTwoChunks) {
    const bytes first = payload_of(37, 9);
    const bytes second = payload_of(11, 10);
    bytes stream = frame_of(first);
    const bytes tail = frame_of(second);
    stream.insert(stream.end(), tail.begin(), tail.end());
    for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
        frame_parser parser(64);
        std::vector<bytes> got;
        for (const auto& chunk : {bytes(stream.begin(), stream.begin() + static_cast<std::ptrdiff_t>(cut)),
                                  bytes(stream.begin() + static_cast<std::ptrdiff_t>(cut), stream.end())}) {
            parser.feed(chunk);
            status s;
            while ((s = parser.next()) == status::frame) {
                got.emplace_back(parser.payload().begin(), parser.payload().end());
            }
            ASSERT_EQ(s, status::need_more) << "cut " << cut;
        }
        EXPECT_EQ(got, (std::vector<bytes>{first, second})) << "cut " << cut;
    }
}

TEST(FrameParser, ManyFramesInOneChunk) {
    std::vector<bytes> payloads;
    bytes stream;
    for (std::size_t i = 0; i < 1000; ++i) {
        payloads.push_back(payload_of(i % 17, static_cast<std::uint8_t>(i)));
        const bytes f = frame_of(payloads.back());
        stream.insert(stream.end(), f.begin(), f.end());
    }
    frame_parser parser(16);
    const parse_result r = parse_in_steps(parser, stream, stream.size());
    EXPECT_EQ(r.last, status::need_more);
    EXPECT_EQ(r.frames, payloads);
    EXPECT_EQ(parser.buffer_capacity(), 0U);  // all parsed in place
}

TEST(FrameParser, ZeroLengthFramesAreValid) {
    bytes stream;
    for (int i = 0; i < 3; ++i) {
        const bytes h = raw_header(0);
        stream.insert(stream.end(), h.begin(), h.end());
    }
    frame_parser parser(0);  // a limit of 0 still allows empty frames
    const parse_result r = parse_in_steps(parser, stream, 1);
    EXPECT_EQ(r.last, status::need_more);
    ASSERT_EQ(r.frames.size(), 3U);
    for (const auto& f : r.frames) {
        EXPECT_TRUE(f.empty());
    }
}

TEST(FrameParser, LengthExactlyAtTheLimitIsAccepted) {
    constexpr std::uint32_t limit = 4096;
    const bytes payload = payload_of(limit, 5);
    for (std::size_t step : {std::size_t{1}, std::size_t{1000}, std::size_t{limit + 4}}) {
        frame_parser parser(limit);
        const parse_result r = parse_in_steps(parser, frame_of(payload), step);
        EXPECT_EQ(r.last, status::need_more) << "step " << step;
        ASSERT_EQ(r.frames.size(), 1U) << "step " << step;
        EXPECT_EQ(r.frames[0], payload);
        EXPECT_LE(parser.buffer_capacity(), std::size_t{limit}) << "step " << step;
    }
}

TEST(FrameParser, OneByteOverTheLimitIsRefused) {
    frame_parser parser(4096);
    const bytes header = raw_header(4097);
    parser.feed(header);
    EXPECT_EQ(parser.next(), status::too_large);
    EXPECT_EQ(parser.declared_length(), 4097U);
    EXPECT_EQ(parser.buffer_capacity(), 0U);
}

TEST(FrameParser, MaximumLengthIsRefusedWithoutAllocating) {
    // 0xFFFFFFFF split across chunks: the refusal comes as soon as the fourth header byte arrives,
    // with nothing allocated, and it sticks even if more data follows.
    frame_parser parser(frame_parser::default_max_frame);
    const bytes header = raw_header(0xFFFFFFFFU);
    for (std::size_t i = 0; i < 3; ++i) {
        parser.feed(gsl::span(header).subspan(i, 1));
        ASSERT_EQ(parser.next(), status::need_more);
    }
    parser.feed(gsl::span(header).subspan(3, 1));
    EXPECT_EQ(parser.next(), status::too_large);
    EXPECT_EQ(parser.declared_length(), 0xFFFFFFFFU);
    EXPECT_EQ(parser.buffer_capacity(), 0U);
    const bytes more = frame_of(payload_of(8, 1));
    parser.feed(more);
    EXPECT_EQ(parser.next(), status::too_large);
    EXPECT_EQ(parser.buffer_capacity(), 0U);
}

TEST(FrameParser, FramesBeforeAnOversizedOneAreStillDelivered) {
    bytes stream = frame_of(payload_of(3, 1));
    const bytes bad = raw_header(100);
    stream.insert(stream.end(), bad.begin(), bad.end());
    frame_parser parser(10);
    const parse_result r = parse_in_steps(parser, stream, stream.size());
    ASSERT_EQ(r.frames.size(), 1U);
    EXPECT_EQ(r.last, status::too_large);
}

TEST(FrameParser, TricklingPeerGetsMemoryInProportionToWhatItSent) {
    // A frame declared at the limit but sent a little at a time: the buffer follows the bytes
    // that arrived (within a factor of two), never jumping to the declared size.
    constexpr std::uint32_t limit = 1U << 20;
    frame_parser parser(limit);
    const bytes header = raw_header(limit);
    parser.feed(header);
    ASSERT_EQ(parser.next(), status::need_more);
    EXPECT_EQ(parser.buffer_capacity(), 0U);
    const bytes piece = payload_of(1000, 3);
    std::size_t sent = 0;
    for (int i = 0; i < 10; ++i) {
        parser.feed(piece);
        ASSERT_EQ(parser.next(), status::need_more);
        sent += piece.size();
        EXPECT_LE(parser.buffer_capacity(), 2 * sent + 256);
    }
    EXPECT_EQ(parser.buffered_bytes(), 4 + sent);
}

TEST(FrameParser, DeliveredFrameFromTheBufferIsNotCountedAsBuffered) {
    // Found by the fuzzer: a frame completed in the parser's own buffer was still reported as
    // buffered while payload() showed it.
    const bytes stream = frame_of(payload_of(10, 5));
    frame_parser parser(64);
    parser.feed(gsl::span(stream).first(8));
    ASSERT_EQ(parser.next(), status::need_more);
    EXPECT_EQ(parser.buffered_bytes(), 8U);
    parser.feed(gsl::span(stream).subspan(8));
    ASSERT_EQ(parser.next(), status::frame);
    EXPECT_EQ(parser.payload().size(), 10U);
    EXPECT_EQ(parser.buffered_bytes(), 0U);
    EXPECT_EQ(parser.next(), status::need_more);
    EXPECT_EQ(parser.buffered_bytes(), 0U);
}

TEST(FrameParser, BufferNeverExceedsTheLimitAndLargeBuffersAreReleased) {
    constexpr std::uint32_t limit = 300'000;  // not a power of two: doubling would overshoot it
    const bytes payload = payload_of(limit, 7);
    frame_parser parser(limit);
    const bytes stream = frame_of(payload);
    std::size_t peak = 0;
    bool got = false;
    for (std::size_t at = 0; at < stream.size(); at += 4093) {
        const std::size_t n = std::min<std::size_t>(4093, stream.size() - at);
        parser.feed(gsl::span(stream).subspan(at, n));
        status s;
        while ((s = parser.next()) == status::frame) {
            got = std::equal(parser.payload().begin(), parser.payload().end(), payload.begin(), payload.end());
            peak = std::max(peak, parser.buffer_capacity());
        }
        ASSERT_EQ(s, status::need_more);
        peak = std::max(peak, parser.buffer_capacity());
    }
    EXPECT_TRUE(got);
    EXPECT_LE(peak, std::size_t{limit});
    // The buffer is handed back once the caller has moved past the frame.
    EXPECT_EQ(parser.next(), status::need_more);
    EXPECT_LE(parser.buffer_capacity(), frame_parser::retained_capacity);
}

TEST(FrameParser, HeaderEncodesLittleEndian) {
    constexpr auto h = frame_header(0x04030201U);
    EXPECT_EQ(h[0], std::byte{1});
    EXPECT_EQ(h[1], std::byte{2});
    EXPECT_EQ(h[2], std::byte{3});
    EXPECT_EQ(h[3], std::byte{4});
}

}  // namespace
}  // namespace wire
