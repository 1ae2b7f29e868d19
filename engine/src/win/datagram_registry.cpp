#include "win/datagram_registry.h"

#include <wire/error.h>

#include "win/datagram_impl.h"
#include "win/system_calls.h"
#include "win/udp_constants.h"

#include <mutex>

namespace wire::detail {

void datagram_registry::close_all() noexcept {
    (void)sockets_.close();
    sockets_.for_each([](datagram_impl& d) { d.close(make_error_code(error::engine_stopped)); });
}

void datagram_registry::probe(SOCKET s) noexcept {
    if (probed_.exchange(true)) {
        return;
    }
    // Windows 10 (1703+) reports both options on a UDP socket; platforms without coalescing
    // (Wine 8, older Windows) refuse them with WSAENOPROTOOPT or WSAEINVAL.
    const auto offered = [s](int name) {
        DWORD value = 0;  // zeroed: Wine writes fewer bytes for some options
        int length = static_cast<int>(sizeof(value));
        return sys().getsockopt(s, IPPROTO_UDP, name, reinterpret_cast<char*>(&value), &length) == 0;
    };
    send_coalescing_.store(offered(udp_send_msg_size), std::memory_order_relaxed);
    receive_coalescing_.store(offered(udp_recv_max_coalesced_size), std::memory_order_relaxed);
}

void datagram_registry::add_features(platform_features& f) const noexcept {
    f.udp_probed = probed_.load(std::memory_order_relaxed);
    f.udp_send_coalescing = send_coalescing_.load(std::memory_order_relaxed);
    f.udp_receive_coalescing = receive_coalescing_.load(std::memory_order_relaxed);
    f.udp_connection_reset_off = connreset_off_.load(std::memory_order_relaxed);
}

}  // namespace wire::detail
