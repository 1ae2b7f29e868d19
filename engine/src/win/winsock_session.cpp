#include "win/winsock_session.h"

#include "win/system_calls.h"

namespace wire::detail {

winsock_session::winsock_session() {
    WSADATA data{};
    if (const int result = sys().wsa_startup(MAKEWORD(2, 2), &data); result != 0) {
        throw std::system_error(result, std::system_category(), "WSAStartup");
    }
}

winsock_session::~winsock_session() { sys().wsa_cleanup(); }

}  // namespace wire::detail
