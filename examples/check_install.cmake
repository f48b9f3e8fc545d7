# Installs the build tree into an empty prefix and checks that, of the
# programs in examples/, only fitpack is installed (with its bash
# completion and, when built, its man page): pack_folder, stream_stdout and
# custom_codec are there to be read and copied.
#
#   cmake -DBINARY_DIR=<build> -DPREFIX=<empty dir> -DCONFIG=<config>
#         -DINSTALL_FITPACK=ON|OFF -DINSTALL_MANPAGE=ON|OFF
#         -DMANDIR=<CMAKE_INSTALL_MANDIR> -DDATADIR=<CMAKE_INSTALL_DATADIR>
#         -P check_install.cmake

file(REMOVE_RECURSE "${PREFIX}")
set(_config_args "")
if(CONFIG)
  set(_config_args --config "${CONFIG}")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BINARY_DIR}" --prefix "${PREFIX}" ${_config_args}
                OUTPUT_VARIABLE _out ERROR_VARIABLE _err RESULT_VARIABLE _rc)
if(NOT _rc STREQUAL "0")
  message(FATAL_ERROR "cmake --install failed (exit ${_rc}):\n${_out}${_err}")
endif()

file(GLOB_RECURSE _installed LIST_DIRECTORIES false RELATIVE "${PREFIX}" "${PREFIX}/*")
foreach(_example IN ITEMS pack_folder stream_stdout custom_codec)
  foreach(_file IN LISTS _installed)
    if(_file MATCHES "(^|/)${_example}(\\.[a-z]+)?$")
      message(FATAL_ERROR "the ${_example} example was installed: ${PREFIX}/${_file}")
    endif()
  endforeach()
endforeach()
if(INSTALL_FITPACK)
  set(_expected "bin/fitpack" "${DATADIR}/bash-completion/completions/fitpack")
  if(INSTALL_MANPAGE)
    list(APPEND _expected "${MANDIR}/man1/fitpack.1")
  endif()
  foreach(_file IN LISTS _expected)
    if(NOT EXISTS "${PREFIX}/${_file}")
      message(FATAL_ERROR "${_file} was not installed in ${PREFIX}")
    endif()
  endforeach()
endif()
file(REMOVE_RECURSE "${PREFIX}")
message(STATUS "installed: only fitpack of the examples (${_expected})")
