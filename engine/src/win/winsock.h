#pragma once
// The engine's sources include Windows headers through here; the headers themselves, and the
// definitions they must be compiled with, are in the one public header.
#include <wire/win32.h>
