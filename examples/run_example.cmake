# Runs one example program and checks the FIT it writes, so that an example
# that stops building, fails, or writes a bad FIT fails its test:
#
#   cmake -DEXAMPLE=<exe> -DARGS=<list> -DOUTPUT=<fit> -DDUMPIMAGE=<dumpimage>
#         [-DFITPACK=<fitpack>] [-DSTDOUT_TO_OUTPUT=ON] [-DENV=<VAR=value;...>]
#         [-DSTAGE_DIR=<dir> -DSTAGE_FILES=<dest=source;...>]
#         [-DEXPECT=<regex;...>] [-DREJECT=<regex;...>] -P run_example.cmake
#
# 1. STAGE_DIR, when given, is emptied and each source file copied to
#    STAGE_DIR/<dest> (to lay out input trees, e.g. nested folders).
# 2. The example runs with ENV added to the environment; it must exit 0.
#    With STDOUT_TO_OUTPUT, its standard output is the FIT.
# 3. `dumpimage -l OUTPUT` must exit 0, and its listing must match every
#    EXPECT regex and no REJECT regex.
# 4. `fitpack verify OUTPUT` (when FITPACK is given) must exit 0: every hash,
#    every payload decodes, every reference resolves.
# Everything is printed, so ctest's PASS_REGULAR_EXPRESSION can look at the
# listing too; any failure ends in "CMake Error".

foreach(_var IN ITEMS EXAMPLE OUTPUT DUMPIMAGE)
  if(NOT DEFINED ${_var} OR "${${_var}}" STREQUAL "")
    message(FATAL_ERROR "run_example.cmake: ${_var} is not set")
  endif()
endforeach()

if(DEFINED STAGE_DIR AND NOT "${STAGE_DIR}" STREQUAL "")
  file(REMOVE_RECURSE "${STAGE_DIR}")
  foreach(_item IN LISTS STAGE_FILES)
    if(NOT _item MATCHES "^([^=]+)=(.+)$")
      message(FATAL_ERROR "run_example.cmake: STAGE_FILES item '${_item}' is not dest=source")
    endif()
    set(_dest "${STAGE_DIR}/${CMAKE_MATCH_1}")
    set(_src "${CMAKE_MATCH_2}")
    get_filename_component(_dest_dir "${_dest}" DIRECTORY)
    file(MAKE_DIRECTORY "${_dest_dir}")
    file(COPY_FILE "${_src}" "${_dest}")
  endforeach()
endif()

foreach(_assignment IN LISTS ENV)
  if(NOT _assignment MATCHES "^([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
    message(FATAL_ERROR "run_example.cmake: ENV item '${_assignment}' is not VAR=value")
  endif()
  set(ENV{${CMAKE_MATCH_1}} "${CMAKE_MATCH_2}")
endforeach()

get_filename_component(_out_dir "${OUTPUT}" DIRECTORY)
file(MAKE_DIRECTORY "${_out_dir}")
file(REMOVE "${OUTPUT}")

# 2. The example itself.
if(STDOUT_TO_OUTPUT)
  execute_process(COMMAND "${EXAMPLE}" ${ARGS}
                  OUTPUT_FILE "${OUTPUT}" ERROR_VARIABLE _err RESULT_VARIABLE _rc)
  set(_out "")
else()
  execute_process(COMMAND "${EXAMPLE}" ${ARGS}
                  OUTPUT_VARIABLE _out ERROR_VARIABLE _err RESULT_VARIABLE _rc)
endif()
string(JOIN " " _cmdline "${EXAMPLE}" ${ARGS})
message(STATUS "ran: ${_cmdline}\n${_out}${_err}")
if(NOT _rc STREQUAL "0")
  message(FATAL_ERROR "example failed (exit ${_rc}): ${_cmdline}")
endif()
if(NOT EXISTS "${OUTPUT}")
  message(FATAL_ERROR "example wrote no ${OUTPUT}")
endif()

# 3. U-Boot's dumpimage reads it back.
execute_process(COMMAND "${DUMPIMAGE}" -l "${OUTPUT}"
                OUTPUT_VARIABLE _listing ERROR_VARIABLE _listing_err RESULT_VARIABLE _rc)
message(STATUS "dumpimage -l ${OUTPUT}:\n${_listing}${_listing_err}")
if(NOT _rc STREQUAL "0")
  message(FATAL_ERROR "dumpimage -l failed (exit ${_rc}) on ${OUTPUT}")
endif()
set(_failures "")
foreach(_re IN LISTS EXPECT)
  if(NOT _listing MATCHES "${_re}")
    string(APPEND _failures "\n  listing does not match: ${_re}")
  endif()
endforeach()
foreach(_re IN LISTS REJECT)
  if(_listing MATCHES "${_re}")
    string(APPEND _failures "\n  listing matches what it must not: ${_re}")
  endif()
endforeach()
if(_failures)
  message(FATAL_ERROR "dumpimage -l ${OUTPUT}:${_failures}")
endif()

# 4. fitpack's verifier: hashes, decoding, references.
if(DEFINED FITPACK AND NOT "${FITPACK}" STREQUAL "")
  execute_process(COMMAND "${FITPACK}" verify "${OUTPUT}"
                  OUTPUT_VARIABLE _verify ERROR_VARIABLE _verify_err RESULT_VARIABLE _rc)
  message(STATUS "fitpack verify ${OUTPUT}: ${_verify}${_verify_err}")
  if(NOT _rc STREQUAL "0")
    message(FATAL_ERROR "fitpack verify failed (exit ${_rc}) on ${OUTPUT}")
  endif()
endif()
