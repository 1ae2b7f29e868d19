# tools/check_sources.py as a build step: alignas padding (MSVC C4324), #pragma GCC/clang (C4068),
# GNU extensions and Windows headers outside <wire/win32.h> fail the build, as MSVC /W4 /WX would
# (GCC and clang have no warning for the padding). It runs again whenever a source changes; the
# same check and its self-test are CTests too.
find_package(Python3 COMPONENTS Interpreter REQUIRED)
cmake_path(GET CMAKE_CURRENT_LIST_DIR PARENT_PATH _wire_root)
file(GLOB_RECURSE _wire_sources CONFIGURE_DEPENDS
  ${_wire_root}/engine/*.h ${_wire_root}/engine/*.cpp ${_wire_root}/tls/*.h ${_wire_root}/tls/*.cpp
  ${_wire_root}/server/*.h ${_wire_root}/server/*.cpp
  ${_wire_root}/client/*.h ${_wire_root}/client/*.cpp ${_wire_root}/tests/*.h ${_wire_root}/tests/*.cpp
  ${_wire_root}/benchmarks/*.h ${_wire_root}/benchmarks/*.cpp ${_wire_root}/docs/*.h ${_wire_root}/docs/*.cpp)
add_custom_command(
  OUTPUT ${CMAKE_BINARY_DIR}/source_rules.stamp
  COMMAND ${Python3_EXECUTABLE} -B ${_wire_root}/tools/check_sources.py --root ${_wire_root}
          --stamp ${CMAKE_BINARY_DIR}/source_rules.stamp
  DEPENDS ${_wire_sources} ${_wire_root}/tools/check_sources.py
  COMMENT "Checking source rules (tools/check_sources.py)"
  VERBATIM)
add_custom_target(source_rules ALL DEPENDS ${CMAKE_BINARY_DIR}/source_rules.stamp)
# Every library and program waits for it, so a break stops the build before anything compiles.
add_dependencies(wire_warnings source_rules)
add_test(NAME source_rules COMMAND ${Python3_EXECUTABLE} -B ${_wire_root}/tools/check_sources.py --root ${_wire_root})
add_test(NAME source_rules_selftest COMMAND ${Python3_EXECUTABLE} -B ${_wire_root}/tools/test_check_sources.py)
unset(_wire_sources)
unset(_wire_root)
