# The Windows preprocessor definitions, for every target of this build. The list itself lives in
# Directory.Build.props (<WireWindowsDefinitions>), read from there so that the Visual Studio build
# and this one cannot disagree; tools/check_project_files.py (CTest project_files) compares what
# CMake ended up with against that list and against what <wire/win32.h> insists on.
cmake_path(GET CMAKE_CURRENT_LIST_DIR PARENT_PATH _wire_root)
file(STRINGS "${_wire_root}/Directory.Build.props" _wire_line
  REGEX "<WireWindowsDefinitions>[^<]*</WireWindowsDefinitions>")
list(LENGTH _wire_line _wire_count)
if(NOT _wire_count EQUAL 1)
  message(FATAL_ERROR "Directory.Build.props must hold exactly one <WireWindowsDefinitions> line")
endif()
string(REGEX REPLACE ".*<WireWindowsDefinitions>([^<]*)</WireWindowsDefinitions>.*" "\\1"
  WIRE_WINDOWS_DEFINITIONS "${_wire_line}")
# MSBuild separates with ';' as CMake does: the value is already a CMake list.
add_compile_definitions(${WIRE_WINDOWS_DEFINITIONS})
unset(_wire_root)
unset(_wire_line)
unset(_wire_count)
