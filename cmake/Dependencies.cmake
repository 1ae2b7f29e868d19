# Third-party libraries. Header-only ones come from a private include folder on the MinGW build
# (never /usr/include, which breaks MinGW's Windows headers) and from vcpkg packages elsewhere.
if(WIRE_PRIVATE_INCLUDE)
  add_library(wire_gsl INTERFACE)
  target_include_directories(wire_gsl SYSTEM INTERFACE "${WIRE_PRIVATE_INCLUDE}")
  add_library(Microsoft.GSL::GSL ALIAS wire_gsl)
  add_library(wire_headers INTERFACE)  # Asio and CLI11: front-ends and benchmarks only
  target_include_directories(wire_headers SYSTEM INTERFACE "${WIRE_PRIVATE_INCLUDE}")
  add_library(wire::asio ALIAS wire_headers)
  add_library(wire::cli11 ALIAS wire_headers)
else()
  find_package(Microsoft.GSL CONFIG REQUIRED)
  find_package(asio CONFIG REQUIRED)
  find_package(CLI11 CONFIG REQUIRED)
  add_library(wire::asio ALIAS asio::asio)
  add_library(wire::cli11 ALIAS CLI11::CLI11)
endif()
find_package(GTest CONFIG REQUIRED)
find_package(benchmark CONFIG REQUIRED)
find_package(Threads REQUIRED)

if(MINGW)
  # Static runtime: Wine (and users) need no MinGW DLLs beside the executables.
  add_link_options(-static)
endif()
