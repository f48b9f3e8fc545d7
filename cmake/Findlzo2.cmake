# Findlzo2.cmake -- find liblzo2 (LZO1X, <lzo/lzo1x.h>).
#
# liblzo2 ships no CMake config; its pkg-config file (lzo2.pc) points at
# <include>/lzo, while fitstream includes <lzo/lzo1x.h>, so this module
# looks for lzo/lzo1x.h itself and uses pkg-config only for hints. It is
# installed next to fitstreamConfig.cmake and used from there too.
#
# Imported target:
#   lzo2::lzo2          the library; its include directory holds lzo/
#
# Result variables:
#   lzo2_FOUND          TRUE when both the header and the library were found
#   lzo2_INCLUDE_DIRS   directory that holds lzo/lzo1x.h
#   lzo2_LIBRARIES      the library to link
#   lzo2_VERSION        version, from lzo/lzoconf.h
#
# Cache variables (set them to override the search):
#   lzo2_INCLUDE_DIR    directory that holds lzo/lzo1x.h
#   lzo2_LIBRARY        path to liblzo2.so / liblzo2.a
#
# Hints: lzo2_ROOT, CMAKE_PREFIX_PATH.

find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(PC_lzo2 QUIET lzo2)
endif()

set(_lzo2_include_hints "")
foreach(_dir IN LISTS PC_lzo2_INCLUDEDIR PC_lzo2_INCLUDE_DIRS)
  get_filename_component(_parent "${_dir}" DIRECTORY)  # .../include/lzo -> .../include
  list(APPEND _lzo2_include_hints "${_dir}" "${_parent}")
endforeach()
find_path(lzo2_INCLUDE_DIR NAMES lzo/lzo1x.h HINTS ${_lzo2_include_hints})
find_library(lzo2_LIBRARY NAMES lzo2 liblzo2 HINTS ${PC_lzo2_LIBDIR} ${PC_lzo2_LIBRARY_DIRS})
unset(_lzo2_include_hints)

set(lzo2_VERSION "")
if(lzo2_INCLUDE_DIR AND EXISTS "${lzo2_INCLUDE_DIR}/lzo/lzoconf.h")
  file(STRINGS "${lzo2_INCLUDE_DIR}/lzo/lzoconf.h" _lzo2_version_line
       REGEX "^#define[ \t]+LZO_VERSION_STRING[ \t]+\"[0-9.]+\"")
  if(_lzo2_version_line MATCHES "\"([0-9.]+)\"")
    set(lzo2_VERSION "${CMAKE_MATCH_1}")
  endif()
  unset(_lzo2_version_line)
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(lzo2
  REQUIRED_VARS lzo2_LIBRARY lzo2_INCLUDE_DIR
  VERSION_VAR lzo2_VERSION
  REASON_FAILURE_MESSAGE "install liblzo2-dev (Debian/Ubuntu) or lzo-devel, or set lzo2_ROOT")

if(lzo2_FOUND)
  set(lzo2_INCLUDE_DIRS "${lzo2_INCLUDE_DIR}")
  set(lzo2_LIBRARIES "${lzo2_LIBRARY}")
  if(NOT TARGET lzo2::lzo2)
    add_library(lzo2::lzo2 UNKNOWN IMPORTED)
    set_target_properties(lzo2::lzo2 PROPERTIES
      IMPORTED_LOCATION "${lzo2_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${lzo2_INCLUDE_DIR}")
  endif()
endif()

mark_as_advanced(lzo2_INCLUDE_DIR lzo2_LIBRARY)
