#pragma once
// Owns one WSAStartup/WSACleanup pair. Winsock counts them, so every engine holding one is safe.
#include <system_error>

namespace wire::detail {

class winsock_session {
public:
    winsock_session();  // throws std::system_error when Winsock 2.2 is unavailable
    ~winsock_session();
    winsock_session(const winsock_session&) = delete;
    winsock_session& operator=(const winsock_session&) = delete;
};

}  // namespace wire::detail
