# Installs the engine and wire::tls with an exported CMake package:
#   find_package(wire_engine CONFIG REQUIRED)
#   target_link_libraries(app PRIVATE wire::engine)   # or wire::tls, which brings the engine
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# wire_tls is wire::tls inside this build (an ALIAS) and, by this name, in the package too.
set_target_properties(wire_tls PROPERTIES EXPORT_NAME tls)
install(TARGETS engine wire_tls EXPORT wire_engine_targets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# Both public folders hold wire/: one include/wire in the prefix.
install(DIRECTORY engine/include/wire tls/include/wire DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT wire_engine_targets NAMESPACE wire:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/wire_engine)

configure_package_config_file(cmake/wire_engine-config.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/wire_engine-config.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/wire_engine)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/wire_engine-config-version.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${CMAKE_CURRENT_BINARY_DIR}/wire_engine-config.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/wire_engine-config-version.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/wire_engine)

# The package works for a downstream project (MinGW build, run under Wine).
if(MINGW AND WIRE_PRIVATE_INCLUDE)
  add_test(NAME install_package
    COMMAND ${CMAKE_SOURCE_DIR}/tools/check_install.sh ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR} ${WIRE_PRIVATE_INCLUDE})
  set_tests_properties(install_package PROPERTIES TIMEOUT 180
    PASS_REGULAR_EXPRESSION "echoed by 127\\.0\\.0\\.1:[0-9]+: hello, completion port")
endif()
