#pragma once
// The one header through which the engine, its front-ends, tests and benchmarks include Windows
// headers: winsock2.h before windows.h (the other order drags in the old winsock.h), lowercase
// names (MinGW's headers sit on a case-sensitive file system). wire.h does not include it: the
// engine's API needs no Windows headers, so a program includes this only for its own Win32 calls.
//
// It insists on the definitions of Directory.Build.props (<WireWindowsDefinitions>), which both
// builds pass to every file: without UNICODE a narrow call compiles here and fails in Visual
// Studio, without NOMINMAX std::min breaks, and so on. A program of its own that includes this
// header defines them too (tools/check_project_files.py keeps this list and that one equal).
#if !defined(UNICODE) || !defined(_UNICODE) || !defined(WIN32_LEAN_AND_MEAN) || !defined(NOMINMAX) || \
    !defined(_WIN32_WINNT)
#error "wire/win32.h: define UNICODE, _UNICODE, WIN32_LEAN_AND_MEAN, NOMINMAX and _WIN32_WINNT=0x0A00 for every file (see Directory.Build.props)"
#elif _WIN32_WINNT < 0x0A00
#error "wire/win32.h: the engine needs the Windows 10 API (_WIN32_WINNT=0x0A00)"
#endif

#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>
#include <windows.h>

// MSVC (and clang-cl): every object that includes this names the import libraries it needs, so
// engine.lib carries them and a program that links it adds nothing (WSAStartup, AcceptEx and the
// other mswsock extension functions). MinGW and CMake consumers get them from the wire::engine
// target (target_link_libraries in engine/CMakeLists.txt).
#ifdef _MSC_VER
#pragma comment(lib, "ws2_32.lib")
#pragma comment(lib, "mswsock.lib")
#endif
