# Keeps engine.sln honest. No Windows machine builds it here, so this writes every relevant
# target's source list to ${CMAKE_BINARY_DIR}/project_sources.json and registers two tests:
#   project_files          tools/check_project_files.py: .sln/.vcxproj vs the tree vs these targets,
#                          the Windows definitions and the CRT of both builds
#   project_files_selftest tools/test_check_project_files.py: the checker catches what it should
# Call wire_add_project_files_check() at the end of the top-level CMakeLists.txt, once every
# target exists. Which targets matter is read from tools/project_layout.py, the one place that
# maps project folders to CMake targets.

function(wire_add_project_files_check)
  # Host Python, even when cross-compiling (the toolchain searches programs on the host).
  find_package(Python3 COMPONENTS Interpreter REQUIRED)
  # The repository root, whoever calls this (CMAKE_SOURCE_DIR is wrong under add_subdirectory).
  cmake_path(GET CMAKE_CURRENT_FUNCTION_LIST_DIR PARENT_PATH root)

  execute_process(
    COMMAND "${Python3_EXECUTABLE}" -B "${root}/tools/project_layout.py" --cmake-targets
    OUTPUT_VARIABLE targets OUTPUT_STRIP_TRAILING_WHITESPACE
    COMMAND_ERROR_IS_FATAL ANY)

  # One JSON object per existing target. The lists are only known at generate time, hence the
  # generator expressions; $<BOOL:> keeps an empty list as [] rather than [""]. Headers added with
  # target_sources(FILE_SET HEADERS) are not in SOURCES, so HEADER_SET is reported as well.
  set(entries "")
  foreach(target IN LISTS targets)
    if(TARGET ${target})
      set(entry "{\"name\": \"${target}\", \"source_dir\": \"$<TARGET_PROPERTY:${target},SOURCE_DIR>\"")
      foreach(property IN ITEMS SOURCES HEADER_SET)
        set(values "$<TARGET_PROPERTY:${target},${property}>")
        string(TOLOWER ${property} key)
        string(APPEND entry ", \"${key}\": [$<$<BOOL:${values}>:\"$<JOIN:${values},\"$<COMMA> \">\">]")
      endforeach()
      list(APPEND entries "${entry}}")
    endif()
  endforeach()
  list(JOIN entries ",\n    " entries)
  file(GENERATE OUTPUT "${CMAKE_BINARY_DIR}/project_sources.json" CONTENT
    "{\n  \"binary_dir\": \"${CMAKE_BINARY_DIR}\",\n  \"targets\": [\n    ${entries}\n  ]\n}\n")

  # Plain host commands: the Wine emulator only wraps executable targets.
  add_test(NAME project_files
    COMMAND "${Python3_EXECUTABLE}" -B "${root}/tools/check_project_files.py"
            --root "${root}" --cmake-sources "${CMAKE_BINARY_DIR}/project_sources.json"
            # Every compile gets the Windows definitions of Directory.Build.props, no more, no less.
            --compile-commands "${CMAKE_BINARY_DIR}/compile_commands.json")
  add_test(NAME project_files_selftest
    COMMAND "${Python3_EXECUTABLE}" -B "${root}/tools/test_check_project_files.py")
endfunction()
