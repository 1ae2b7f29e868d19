#pragma once
// The client's two kinds of console output, each written whole.
#include <string_view>

namespace wire::client {

// One progress or diagnostic line to stderr. Workers report errors while main prints progress;
// a lock keeps their lines from interleaving.
void print_stderr_line(std::string_view line) noexcept;

// Text to stdout as is (lines ended by a bare LF), flushed at once. Written with WriteFile rather
// than through the C runtime, whose text mode would turn each LF into CR LF: the JSON line is read
// by scripts, often on Linux under Wine, that should not have to strip a CR.
void print_stdout(std::string_view text) noexcept;

}  // namespace wire::client
