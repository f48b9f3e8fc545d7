# Builds and runs the consumer in tests/package/ from an empty directory.
#
#   cmake -DMODE=add_subdirectory|find_package|single_header|pkg_config
#         -DFITSTREAM_SOURCE_DIR=... -DFITSTREAM_BINARY_DIR=... -DWORK_DIR=...
#         [-DEXPECTED_VERSION=x.y.z] [-DGENERATOR=...] [-DMAKE_PROGRAM=...]
#         [-DCXX_COMPILER=...] [-DCONFIG=...] [-DPKG_CONFIG=...] -P run.cmake
#
# find_package, single_header and pkg_config modes first install
# FITSTREAM_BINARY_DIR (an already built fitstream tree) into
# WORK_DIR/<mode>/prefix and make sure the consumer found fitstream there and
# nowhere else. single_header builds tests/package/single/ (the installed
# single header with only the zstd codec besides none and gzip) instead of
# tests/package/. pkg_config compiles the same three consumers without CMake,
# as `c++ -std=c++17 X.cpp $(pkg-config --cflags --libs M)` with
# PKG_CONFIG_PATH=<prefix>/share/pkgconfig: main.cpp with fitstream,
# main_lz4.cpp with fitstream-lz4, single/main.cpp with fitstream-single.

cmake_minimum_required(VERSION 3.21)

foreach(_var IN ITEMS MODE FITSTREAM_SOURCE_DIR FITSTREAM_BINARY_DIR WORK_DIR)
  if(NOT DEFINED ${_var} OR "${${_var}}" STREQUAL "")
    message(FATAL_ERROR "run.cmake: -D${_var}=... is required")
  endif()
endforeach()
if(NOT CONFIG)
  set(CONFIG Release)
endif()

set(_dir "${WORK_DIR}/${MODE}")
set(_build "${_dir}/build")
set(_prefix "${_dir}/prefix")
file(REMOVE_RECURSE "${_dir}")
file(MAKE_DIRECTORY "${_dir}")

function(run_step what)
  message(STATUS "package test (${MODE}): ${what}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE _result COMMAND_ECHO STDOUT)
  if(NOT _result EQUAL 0)
    message(FATAL_ERROR "package test (${MODE}): ${what} failed (${_result})")
  endif()
endfunction()

set(_source "${CMAKE_CURRENT_LIST_DIR}")
set(_consumers consumer consumer_lz4)
if(MODE STREQUAL "single_header")
  set(_source "${CMAKE_CURRENT_LIST_DIR}/single")
  set(_consumers consumer_single)
endif()

set(_configure_args
  -S "${_source}" -B "${_build}"
  "-DFITSTREAM_PACKAGE_MODE=${MODE}"
  "-DCMAKE_BUILD_TYPE=${CONFIG}"
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
if(GENERATOR)
  list(APPEND _configure_args -G "${GENERATOR}")
endif()
if(MAKE_PROGRAM)
  list(APPEND _configure_args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
if(CXX_COMPILER)
  list(APPEND _configure_args "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
endif()
if(EXPECTED_VERSION)
  list(APPEND _configure_args "-DFITSTREAM_EXPECTED_VERSION=${EXPECTED_VERSION}")
endif()

if(MODE STREQUAL "pkg_config")
  include("${CMAKE_CURRENT_LIST_DIR}/pkg_config.cmake")
  return()
endif()

if(MODE STREQUAL "add_subdirectory")
  list(APPEND _configure_args "-DFITSTREAM_SOURCE_DIR=${FITSTREAM_SOURCE_DIR}")
elseif(MODE STREQUAL "find_package" OR MODE STREQUAL "single_header")
  run_step("install fitstream into ${_prefix}"
    "${CMAKE_COMMAND}" --install "${FITSTREAM_BINARY_DIR}" --prefix "${_prefix}" --config "${CONFIG}")
  list(APPEND _configure_args "-DCMAKE_PREFIX_PATH=${_prefix}")
else()
  message(FATAL_ERROR "run.cmake: MODE must be add_subdirectory, find_package, single_header or pkg_config, not '${MODE}'")
endif()

run_step("configure" "${CMAKE_COMMAND}" ${_configure_args})

if(NOT MODE STREQUAL "add_subdirectory")
  file(STRINGS "${_build}/CMakeCache.txt" _dir_line REGEX "^fitstream_DIR:")
  string(REGEX REPLACE "^fitstream_DIR:[A-Z]+=" "" _found_dir "${_dir_line}")
  file(REAL_PATH "${_found_dir}" _found_dir)
  file(REAL_PATH "${_prefix}" _real_prefix)
  string(FIND "${_found_dir}/" "${_real_prefix}/" _at)
  if(NOT _at EQUAL 0)
    message(FATAL_ERROR "package test: found fitstream in '${_found_dir}', not under ${_real_prefix}")
  endif()
endif()

run_step("build" "${CMAKE_COMMAND}" --build "${_build}" --config "${CONFIG}")

foreach(_name IN LISTS _consumers)
  set(_exe "${_build}/${_name}")
  if(NOT EXISTS "${_exe}" AND EXISTS "${_build}/${CONFIG}/${_name}")
    set(_exe "${_build}/${CONFIG}/${_name}")
  endif()
  run_step("run ${_name}" "${_exe}")
endforeach()
message(STATUS "package test (${MODE}): passed")
