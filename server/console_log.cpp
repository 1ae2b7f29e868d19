#include "console_log.h"

#include <iostream>
#include <mutex>

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

}  // namespace wire::server
