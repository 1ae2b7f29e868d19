#pragma once
// Winsock UDP constants that MinGW-w64's headers lack (mstcpip.h, ws2ipdef.h), with the values of
// the Windows SDK, under names of our own so that they never clash with the SDK's macros.
#include "win/winsock.h"

namespace wire::detail {

// SIO_UDP_CONNRESET = _WSAIOW(IOC_VENDOR, 12) (mstcpip.h): whether an ICMP "port unreachable"
// ends the next WSARecvFrom with WSAECONNRESET.
constexpr DWORD sio_udp_connreset = IOC_IN | IOC_VENDOR | 12;
// ws2ipdef.h, level IPPROTO_UDP: send coalescing (USO) and receive coalescing (URO), Windows 10+.
constexpr int udp_send_msg_size = 2;
constexpr int udp_recv_max_coalesced_size = 3;

}  // namespace wire::detail
