#include "console_output.h"

#include <wire/win32.h>

#include <iostream>
#include <mutex>
#include <string>

#include <gsl/util>

namespace wire::server {

void log_line(std::string_view line) noexcept {
    static std::mutex mutex;
    try {
        const std::lock_guard lock(mutex);
        std::cerr << line << '\n' << std::flush;
    } catch (...) {
        // Nowhere left to report a failing stderr; the line is lost, the server goes on.
    }
}

void print_stdout_line(std::string_view line) noexcept {
    try {
        std::string text(line);
        text += '\n';
        const HANDLE out = ::GetStdHandle(STD_OUTPUT_HANDLE);
        std::size_t written_total = 0;
        while (written_total < text.size()) {
            DWORD written = 0;
            const auto chunk = gsl::narrow_cast<DWORD>(text.size() - written_total);  // one short line
            if (::WriteFile(out, text.data() + written_total, chunk, &written, nullptr) == FALSE || written == 0) {
                return;  // no stdout (closed or detached): nothing to tell
            }
            written_total += written;
        }
    } catch (...) {
        // No memory for one line: nothing to print it with either.
    }
}

}  // namespace wire::server
