# Findlibdeflate.cmake -- find libdeflate (libdeflate.h), which gzip's
# compression uses.
#
# Debian's libdeflate-dev (1.14) ships a pkg-config file but no CMake
# config (those came with libdeflate 1.15); this module asks pkg-config for
# hints when it can and otherwise looks for the header and the library
# directly. It is installed next to fitstreamConfig.cmake and used from
# there too.
#
# Imported target:
#   libdeflate::libdeflate   the library, with its include directory
#
# Result variables:
#   libdeflate_FOUND         TRUE when both the header and the library were found
#   libdeflate_INCLUDE_DIRS  directory that holds libdeflate.h
#   libdeflate_LIBRARIES     the library to link
#   libdeflate_VERSION       version, from libdeflate.h or pkg-config
#
# Cache variables (set them to override the search):
#   libdeflate_INCLUDE_DIR   directory that holds libdeflate.h
#   libdeflate_LIBRARY       path to libdeflate.so / libdeflate.a
#
# Hints: libdeflate_ROOT, CMAKE_PREFIX_PATH.

find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(PC_libdeflate QUIET libdeflate)
endif()

find_path(libdeflate_INCLUDE_DIR NAMES libdeflate.h HINTS ${PC_libdeflate_INCLUDEDIR} ${PC_libdeflate_INCLUDE_DIRS})
find_library(libdeflate_LIBRARY NAMES deflate libdeflate HINTS ${PC_libdeflate_LIBDIR} ${PC_libdeflate_LIBRARY_DIRS})

set(libdeflate_VERSION "")
if(libdeflate_INCLUDE_DIR AND EXISTS "${libdeflate_INCLUDE_DIR}/libdeflate.h")
  file(STRINGS "${libdeflate_INCLUDE_DIR}/libdeflate.h" _libdeflate_version_line
       REGEX "^#define[ \t]+LIBDEFLATE_VERSION_STRING[ \t]+\"[0-9.]+\"")
  if(_libdeflate_version_line MATCHES "\"([0-9.]+)\"")
    set(libdeflate_VERSION "${CMAKE_MATCH_1}")
  endif()
  unset(_libdeflate_version_line)
endif()
if(NOT libdeflate_VERSION AND PC_libdeflate_VERSION)
  set(libdeflate_VERSION "${PC_libdeflate_VERSION}")
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(libdeflate
  REQUIRED_VARS libdeflate_LIBRARY libdeflate_INCLUDE_DIR
  VERSION_VAR libdeflate_VERSION
  REASON_FAILURE_MESSAGE "install libdeflate-dev (Debian/Ubuntu) or libdeflate-devel, or set libdeflate_ROOT")

if(libdeflate_FOUND)
  set(libdeflate_INCLUDE_DIRS "${libdeflate_INCLUDE_DIR}")
  set(libdeflate_LIBRARIES "${libdeflate_LIBRARY}")
  if(NOT TARGET libdeflate::libdeflate)
    add_library(libdeflate::libdeflate UNKNOWN IMPORTED)
    set_target_properties(libdeflate::libdeflate PROPERTIES
      IMPORTED_LOCATION "${libdeflate_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${libdeflate_INCLUDE_DIR}")
  endif()
endif()

mark_as_advanced(libdeflate_INCLUDE_DIR libdeflate_LIBRARY)
