#include "console_output.h"

#include <wire/win32.h>

#include <algorithm>
#include <iostream>
#include <mutex>

#include <gsl/util>

namespace wire::client {

void print_stderr_line(std::string_view line) noexcept {
    static std::mutex mutex;
    try {
        const std::lock_guard lock(mutex);
        std::cerr << line << '\n' << std::flush;
    } catch (...) {
        // Nowhere left to report a failing stderr.
    }
}

void print_stdout(std::string_view text) noexcept {
    const HANDLE out = ::GetStdHandle(STD_OUTPUT_HANDLE);
    while (!text.empty()) {
        DWORD written = 0;
        // A summary is a few hundred bytes; larger text would simply take several writes.
        const auto chunk = gsl::narrow_cast<DWORD>(std::min<std::size_t>(text.size(), 1U << 20));
        if (::WriteFile(out, text.data(), chunk, &written, nullptr) == FALSE || written == 0) {
            return;  // no stdout (closed or detached): nothing to tell
        }
        text.remove_prefix(written);
    }
}

}  // namespace wire::client
