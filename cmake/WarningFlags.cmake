# The GCC and clang warnings that stand in for MSVC's /W4 /WX (Directory.Build.props), as errors.
# One list for the MinGW cross-build (cmake/Warnings.cmake), the clang check of the same sources
# (tools/clang_syntax_check.py reads it from CMake) and the native sanitizer build (tests/native).
# Each flag is here because MSVC reports the same thing at /W4, or because it guards a bug class
# the project has decided against; the MSVC warning numbers say which.
set(WIRE_WARNING_FLAGS
  -Wall -Wextra -Wpedantic -Werror
  -Wconversion             # C4244 / C4267 / C4242: narrowing, 64-to-32-bit truncation (size_t -> int)
  -Wsign-conversion        # C4245 / C4365-like: signed <-> unsigned without a cast
  -Wsign-compare           # C4018 / C4389: signed/unsigned comparison
  -Wshadow                 # C4456-C4459: a local hiding another local, a parameter, a member or a global
  -Wunused-parameter       # C4100
  -Wunused-variable        # C4101 / C4189
  -Wunused-but-set-variable  # C4189
  -Wunknown-pragmas        # C4068: a pragma only one compiler knows
  -Wnon-virtual-dtor       # handlers are deleted through their base
  -Woverloaded-virtual
  -Wcast-qual
  -Wformat=2
  -Wimplicit-fallthrough   # C26819 in MSVC's analyser; [[fallthrough]] documents the intent
  -Wmissing-declarations   # free functions belong in a header or an anonymous namespace
  -Wundef)                 # C4668: an undefined macro in #if
# What only clang knows: constructor parameters hiding members (C4458 also reports those) and code
# that can never run (C4702).
set(WIRE_CLANG_WARNING_FLAGS -Wshadow-field-in-constructor -Wunreachable-code)
