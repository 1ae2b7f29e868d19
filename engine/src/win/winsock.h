#pragma once
// The one place Windows headers are included. WIN32_LEAN_AND_MEAN and NOMINMAX come from the
// build (Directory.Build.props / CMake) so every translation unit sees the same definitions.
// Lowercase names: MinGW's headers live on a case-sensitive file system.
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>
#include <windows.h>
