#pragma once
// The one place the benchmarks include Windows headers. WIN32_LEAN_AND_MEAN and NOMINMAX come from
// the build, as for the engine. winsock2.h must precede windows.h (Asio includes it the same way).
// Lowercase names: MinGW's headers live on a case-sensitive file system.
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>
#include <windows.h>
#include <psapi.h>
