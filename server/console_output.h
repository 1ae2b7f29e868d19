#pragma once
// The server's two kinds of console output, each written whole.
#include <string_view>

namespace wire::server {

// One diagnostic or statistics line to stderr. Worker threads and the statistics printer write
// concurrently; a lock keeps their lines from interleaving.
void log_line(std::string_view line) noexcept;

// One line to stdout, ended by a bare LF and flushed at once. Written with WriteFile rather than
// through the C runtime, whose text mode would end it with CR LF: the readiness line is read by
// scripts, often on Linux under Wine, that should not have to strip a CR.
void print_stdout_line(std::string_view line) noexcept;

}  // namespace wire::server
