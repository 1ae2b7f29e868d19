# A second compiler keeps the code portable: clang checks every source that the cross-build compiles
# (engine, server, client, tests, benchmarks, the sample), for the same Windows target, with the
# same definitions and include paths (read from compile_commands.json) and the project's warnings
# plus clang's own (cmake/WarningFlags.cmake), as a CTest.
find_program(WIRE_CLANGXX NAMES clang++)
find_package(Python3 COMPONENTS Interpreter REQUIRED)
if(WIRE_CLANGXX AND MINGW)
  set(warning_args "")
  foreach(flag IN LISTS WIRE_WARNING_FLAGS WIRE_CLANG_WARNING_FLAGS)
    list(APPEND warning_args "--warning=${flag}")
  endforeach()
  add_test(NAME clang_syntax
    COMMAND ${Python3_EXECUTABLE} -B ${CMAKE_SOURCE_DIR}/tools/clang_syntax_check.py
      --clang ${WIRE_CLANGXX}
      --gcc ${CMAKE_CXX_COMPILER}
      --compile-commands ${CMAKE_BINARY_DIR}/compile_commands.json
      --root ${CMAKE_SOURCE_DIR}
      --require engine --require server --require client --require tests --require benchmarks
      ${warning_args})
  # About 2 minutes of CPU for ~110 sources; measured 223-370 s of wall time on a 2-core machine
  # whose cores other work kept busy (load 5-10), over the test preset's 300 s default.
  set_tests_properties(clang_syntax PROPERTIES TIMEOUT 900)
endif()
