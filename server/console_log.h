#pragma once
// One diagnostic line to stderr, whole: worker threads and the statistics printer write
// concurrently, and interleaved halves of lines would be unreadable.
#include <string_view>

namespace wire::server {

void log_line(std::string_view line) noexcept;

}  // namespace wire::server
