#include <wire/frame_parser.h>

#include <algorithm>
#include <cassert>
#include <new>

namespace wire {

namespace {

std::uint32_t decode_length(const std::array<std::byte, frame_parser::header_size>& h) noexcept {
    return std::to_integer<std::uint32_t>(h[0]) | (std::to_integer<std::uint32_t>(h[1]) << 8U) |
           (std::to_integer<std::uint32_t>(h[2]) << 16U) | (std::to_integer<std::uint32_t>(h[3]) << 24U);
}

}  // namespace

void frame_parser::feed(gsl::span<const std::byte> chunk) noexcept {
    // Feeding over unread bytes would silently drop them from the stream.
    assert(chunk_.empty() && "feed() before next() returned need_more");
    chunk_ = chunk;
    payload_ = {};
}

frame_parser::status frame_parser::fail(status why) noexcept {
    failure_ = why;
    chunk_ = {};
    payload_ = {};
    release_partial();
    return why;
}

void frame_parser::release_partial() noexcept {
    // Keep a modest buffer for the next frame that spans chunks; give a large one back.
    if (partial_.capacity() > retained_capacity) {
        std::vector<std::byte>().swap(partial_);
    } else {
        partial_.clear();
    }
    payload_in_partial_ = false;
}

frame_parser::status frame_parser::next() noexcept {
    if (failure_ != status::need_more) {
        return failure_;
    }
    payload_ = {};
    if (payload_in_partial_) {
        release_partial();  // the caller has finished with the previous frame
    }

    // The header: straight from the chunk when it is all there, else collected across chunks.
    if (header_have_ < header_size) {
        const std::size_t take = std::min(header_size - header_have_, chunk_.size());
        std::copy_n(chunk_.begin(), take, header_.begin() + static_cast<std::ptrdiff_t>(header_have_));
        header_have_ += take;
        chunk_ = chunk_.subspan(take);
        if (header_have_ < header_size) {
            return status::need_more;
        }
        length_ = decode_length(header_);
        if (length_ > max_frame_) {
            return fail(status::too_large);  // before a single byte is buffered for it
        }
    }

    // The payload: in place when the chunk holds all of it and nothing was buffered before.
    if (partial_.empty() && chunk_.size() >= length_) {
        payload_ = chunk_.first(length_);
        chunk_ = chunk_.subspan(length_);
        header_have_ = 0;
        return status::frame;
    }

    // Otherwise copy what there is. Capacity grows geometrically but never beyond the declared
    // length (at most max_frame), and only as bytes actually arrive: a peer that declares a large
    // frame and then trickles gets memory in proportion to what it sent.
    const std::size_t missing = length_ - partial_.size();
    const std::size_t take = std::min(missing, chunk_.size());
    const std::size_t wanted = partial_.size() + take;
    if (wanted > partial_.capacity()) {
        const std::size_t grown = std::max({wanted, partial_.capacity() * 2, std::size_t{256}});
        try {
            partial_.reserve(std::min<std::size_t>(grown, length_));
        } catch (const std::bad_alloc&) {
            return fail(status::out_of_memory);
        }
    }
    partial_.insert(partial_.end(), chunk_.begin(), chunk_.begin() + static_cast<std::ptrdiff_t>(take));
    chunk_ = chunk_.subspan(take);
    if (partial_.size() < length_) {
        return status::need_more;
    }
    payload_ = partial_;
    payload_in_partial_ = true;
    header_have_ = 0;
    return status::frame;
}

}  // namespace wire
