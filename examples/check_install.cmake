# Installs the build tree into an empty prefix and checks that, of the
# programs in examples/, only fitpack is installed: pack_folder,
# stream_stdout and custom_codec are there to be read and copied.
#
#   cmake -DBINARY_DIR=<build> -DPREFIX=<empty dir> -DCONFIG=<config>
#         -DINSTALL_FITPACK=ON|OFF -P check_install.cmake

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
if(INSTALL_FITPACK AND NOT EXISTS "${PREFIX}/bin/fitpack")
  message(FATAL_ERROR "fitpack was not installed in ${PREFIX}/bin")
endif()
file(REMOVE_RECURSE "${PREFIX}")
message(STATUS "installed: only fitpack of the examples")
