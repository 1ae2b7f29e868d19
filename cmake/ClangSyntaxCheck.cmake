# A second compiler keeps the code portable: clang checks every engine, server and client source
# for the same Windows target, with its own warnings, as a CTest.
find_program(WIRE_CLANGXX NAMES clang++ clang++-14)
find_package(Python3 COMPONENTS Interpreter REQUIRED)
if(WIRE_CLANGXX AND MINGW)
  set(files "")
  foreach(target IN ITEMS engine server client sample)
    if(TARGET ${target})
      get_target_property(sources ${target} SOURCES)
      get_target_property(dir ${target} SOURCE_DIR)
      foreach(source IN LISTS sources)
        if(source MATCHES "\\.cpp$")
          cmake_path(ABSOLUTE_PATH source BASE_DIRECTORY "${dir}" OUTPUT_VARIABLE absolute)
          list(APPEND files "${absolute}")
        endif()
      endforeach()
    endif()
  endforeach()
  add_test(NAME clang_syntax
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tools/clang_syntax_check.py
      --clang ${WIRE_CLANGXX}
      --include ${CMAKE_SOURCE_DIR}/engine/include
      --include ${CMAKE_SOURCE_DIR}/engine/src
      --include ${WIRE_PRIVATE_INCLUDE}
      ${files})
endif()
