#pragma once
// The benchmarks' Windows headers: the engine's one Windows header (with the definitions it
// insists on), and psapi.h for GetProcessMemoryInfo, which needs windows.h first.
#include <wire/win32.h>

#include <psapi.h>
