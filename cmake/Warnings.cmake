# Warning flags for the project's own targets (never for third-party code), mirroring
# Directory.Build.props: warnings are errors, at the highest level each compiler offers sanely.
include(${CMAKE_CURRENT_LIST_DIR}/WarningFlags.cmake)
add_library(wire_warnings INTERFACE)
if(MSVC)
  target_compile_options(wire_warnings INTERFACE /W4 /WX /permissive- /Zc:__cplusplus /utf-8 /EHsc)
elseif(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  target_compile_options(wire_warnings INTERFACE ${WIRE_WARNING_FLAGS} ${WIRE_CLANG_WARNING_FLAGS})
else()
  target_compile_options(wire_warnings INTERFACE ${WIRE_WARNING_FLAGS})
endif()
