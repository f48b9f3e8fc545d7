# Findlz4.cmake -- find liblz4 (the LZ4 frame API, lz4frame.h).
#
# Debian's liblz4-dev ships a pkg-config file but no CMake config; this
# module asks pkg-config for hints when it can and otherwise looks for the
# header and the library directly. It is installed next to
# fitstreamConfig.cmake and used from there too.
#
# Imported target:
#   lz4::lz4            the library, with its include directory
#
# Result variables:
#   lz4_FOUND           TRUE when both the header and the library were found
#   lz4_INCLUDE_DIRS    directory that holds lz4frame.h
#   lz4_LIBRARIES       the library to link
#   lz4_VERSION         version, from pkg-config or lz4.h
#
# Cache variables (set them to override the search):
#   lz4_INCLUDE_DIR     directory that holds lz4frame.h
#   lz4_LIBRARY         path to liblz4.so / liblz4.a
#
# Hints: lz4_ROOT, CMAKE_PREFIX_PATH.

find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(PC_lz4 QUIET liblz4)
endif()

find_path(lz4_INCLUDE_DIR NAMES lz4frame.h HINTS ${PC_lz4_INCLUDEDIR} ${PC_lz4_INCLUDE_DIRS})
find_library(lz4_LIBRARY NAMES lz4 liblz4 HINTS ${PC_lz4_LIBDIR} ${PC_lz4_LIBRARY_DIRS})

set(lz4_VERSION "")
if(lz4_INCLUDE_DIR AND EXISTS "${lz4_INCLUDE_DIR}/lz4.h")
  file(STRINGS "${lz4_INCLUDE_DIR}/lz4.h" _lz4_version_lines
       REGEX "^#define[ \t]+LZ4_VERSION_(MAJOR|MINOR|RELEASE)[ \t]+[0-9]+")
  foreach(_part IN ITEMS MAJOR MINOR RELEASE)
    if(_lz4_version_lines MATCHES "LZ4_VERSION_${_part}[ \t]+([0-9]+)")
      list(APPEND lz4_VERSION "${CMAKE_MATCH_1}")
    endif()
  endforeach()
  list(JOIN lz4_VERSION "." lz4_VERSION)
  unset(_lz4_version_lines)
endif()
if(NOT lz4_VERSION AND PC_lz4_VERSION)
  set(lz4_VERSION "${PC_lz4_VERSION}")
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(lz4
  REQUIRED_VARS lz4_LIBRARY lz4_INCLUDE_DIR
  VERSION_VAR lz4_VERSION
  REASON_FAILURE_MESSAGE "install liblz4-dev (Debian/Ubuntu) or lz4-devel, or set lz4_ROOT")

if(lz4_FOUND)
  set(lz4_INCLUDE_DIRS "${lz4_INCLUDE_DIR}")
  set(lz4_LIBRARIES "${lz4_LIBRARY}")
  if(NOT TARGET lz4::lz4)
    add_library(lz4::lz4 UNKNOWN IMPORTED)
    set_target_properties(lz4::lz4 PROPERTIES
      IMPORTED_LOCATION "${lz4_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${lz4_INCLUDE_DIR}")
  endif()
endif()

mark_as_advanced(lz4_INCLUDE_DIR lz4_LIBRARY)
