# The pkg_config mode of run.cmake (included from there; uses its variables
# and run_step): install the build tree into a prefix, then compile and run
# the consumers with the compiler and pkg-config alone, as a Makefile would:
#   c++ -std=c++17 main.cpp        $(pkg-config --cflags --libs fitstream)
#   c++ -std=c++17 main_lz4.cpp    $(pkg-config --cflags --libs fitstream-lz4)
#   c++ -std=c++17 single/main.cpp -DFITSTREAM_NO_{BZIP2,LZMA,LZO,LZ4}
#                                  $(pkg-config --cflags --libs fitstream-single)
# and check that each .pc file came from the prefix and that a component
# links only its own codec's library.

if(NOT PKG_CONFIG)
  find_program(PKG_CONFIG NAMES pkg-config pkgconf)
endif()
if(NOT PKG_CONFIG)
  message(FATAL_ERROR "package test (pkg_config): no pkg-config; install pkgconf (Debian: pkg-config)")
endif()
if(NOT CXX_COMPILER)
  set(CXX_COMPILER c++)
endif()

run_step("install fitstream into ${_prefix}"
  "${CMAKE_COMMAND}" --install "${FITSTREAM_BINARY_DIR}" --prefix "${_prefix}" --config "${CONFIG}")
set(_pc_dir "${_prefix}/share/pkgconfig")
file(MAKE_DIRECTORY "${_build}")

# pkg-config <args>, with only our prefix added to the search path; the
# output in <out_var> as a list of arguments.
function(pkg_config out_var)
  execute_process(
    COMMAND "${CMAKE_COMMAND}" -E env "PKG_CONFIG_PATH=${_pc_dir}" "${PKG_CONFIG}" ${ARGN}
    RESULT_VARIABLE _result OUTPUT_VARIABLE _out ERROR_VARIABLE _err OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT _result EQUAL 0)
    message(FATAL_ERROR "package test (pkg_config): pkg-config ${ARGN} failed (${_result}): ${_err}")
  endif()
  separate_arguments(_out UNIX_COMMAND "${_out}")
  set(${out_var} "${_out}" PARENT_SCOPE)
endfunction()

foreach(_module IN ITEMS fitstream fitstream-core fitstream-lz4 fitstream-single)
  pkg_config(_found_dir --variable=pcfiledir ${_module})
  file(REAL_PATH "${_found_dir}" _found_dir)
  file(REAL_PATH "${_pc_dir}" _real_pc_dir)
  if(NOT _found_dir STREQUAL _real_pc_dir)
    message(FATAL_ERROR "package test (pkg_config): found ${_module}.pc in '${_found_dir}', not in ${_real_pc_dir}")
  endif()
  pkg_config(_version --modversion ${_module})
  if(EXPECTED_VERSION AND NOT _version STREQUAL EXPECTED_VERSION)
    message(FATAL_ERROR "package test (pkg_config): ${_module} is version '${_version}', expected ${EXPECTED_VERSION}")
  endif()
endforeach()

# A user pays for a codec only when using it, as with the CMake components.
pkg_config(_core_libs --libs fitstream-core)
pkg_config(_lz4_libs --libs fitstream-lz4)
foreach(_lib IN ITEMS -lzstd -llz4 -llzma -lbz2 -llzo2)
  if(_lib IN_LIST _core_libs)
    message(FATAL_ERROR "package test (pkg_config): fitstream-core links ${_lib}: ${_core_libs}")
  endif()
  if(_lib IN_LIST _lz4_libs AND NOT _lib STREQUAL "-llz4")
    message(FATAL_ERROR "package test (pkg_config): fitstream-lz4 links ${_lib}: ${_lz4_libs}")
  endif()
endforeach()
if(NOT "-lfdt" IN_LIST _core_libs OR NOT "-llz4" IN_LIST _lz4_libs)
  message(FATAL_ERROR "package test (pkg_config): fitstream-core must link -lfdt (${_core_libs}), "
                      "fitstream-lz4 -llz4 (${_lz4_libs})")
endif()
# The single header's directory holds nothing but the single header.
pkg_config(_single_cflags --cflags fitstream-single)
if(NOT _single_cflags MATCHES "-I[^;]*/fitstream-single(;|$)")
  message(FATAL_ERROR "package test (pkg_config): fitstream-single's Cflags miss include/fitstream-single: ${_single_cflags}")
endif()

set(_source "${CMAKE_CURRENT_LIST_DIR}")
foreach(_consumer IN ITEMS "consumer|main.cpp|fitstream|-DFITSTREAM_EXPECTED_VERSION=\"${EXPECTED_VERSION}\""
                           "consumer_lz4|main_lz4.cpp|fitstream-lz4|"
                           "consumer_single|single/main.cpp|fitstream-single|-DFITSTREAM_NO_BZIP2;-DFITSTREAM_NO_LZMA;-DFITSTREAM_NO_LZO;-DFITSTREAM_NO_LZ4")
  string(REPLACE "|" ";" _fields "${_consumer}")
  list(GET _fields 0 _name)
  list(GET _fields 1 _file)
  list(GET _fields 2 _module)
  list(SUBLIST _fields 3 -1 _defines)
  pkg_config(_flags --cflags --libs ${_module})
  run_step("compile ${_name} with pkg-config ${_module}"
    "${CXX_COMPILER}" -std=c++17 -O1 -Wall -Wextra -Werror ${_defines} "${_source}/${_file}"
    -o "${_build}/${_name}" ${_flags})
  run_step("run ${_name}" "${_build}/${_name}")
endforeach()
message(STATUS "package test (${MODE}): passed")
