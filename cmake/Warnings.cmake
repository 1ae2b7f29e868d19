# Warning flags for the project's own targets (never for third-party code), mirroring
# Directory.Build.props: warnings are errors, at the highest level each compiler offers sanely.
add_library(wire_warnings INTERFACE)
if(MSVC)
  target_compile_options(wire_warnings INTERFACE /W4 /WX /permissive- /Zc:__cplusplus /utf-8 /EHsc)
else()
  target_compile_options(wire_warnings INTERFACE
    -Wall -Wextra -Wpedantic -Werror
    -Wshadow                 # a local hiding a member is a classic lifetime bug
    -Wnon-virtual-dtor       # handlers are deleted through their base
    -Woverloaded-virtual
    -Wcast-qual
    -Wformat=2
    -Wimplicit-fallthrough
    -Wmissing-declarations   # free functions belong in a header or an anonymous namespace
    -Wundef)
endif()
# The same Windows definitions as Directory.Build.props, for every target.
add_compile_definitions(_WIN32_WINNT=0x0A00 WIN32_LEAN_AND_MEAN NOMINMAX)
