# Warning flags for the project's own targets (never for third-party code), mirroring
# Directory.Build.props: warnings are errors, at the highest level each compiler offers sanely.
include(${CMAKE_CURRENT_LIST_DIR}/WarningFlags.cmake)
add_library(wire_warnings INTERFACE)
if(MSVC)
  # /wd4701 /wd4702 /wd4703: the optimizer's warnings, which /external:W0 cannot keep to our own
  # code (Directory.Build.props says why; GCC and clang hold our code to them instead).
  target_compile_options(wire_warnings INTERFACE /W4 /WX /permissive- /Zc:__cplusplus /utf-8 /EHsc
    /wd4701 /wd4702 /wd4703)
elseif(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  target_compile_options(wire_warnings INTERFACE ${WIRE_WARNING_FLAGS} ${WIRE_CLANG_WARNING_FLAGS})
else()
  target_compile_options(wire_warnings INTERFACE ${WIRE_WARNING_FLAGS})
endif()
