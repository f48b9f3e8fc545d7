# Findlibfdt.cmake -- find libfdt, the flat device tree library from dtc.
#
# libfdt ships neither a CMake config nor (on Debian) a pkg-config file, so
# this module looks for the header and the library directly and only falls
# back to pkg-config when that fails. It is installed next to
# fitstreamConfig.cmake and used from there too.
#
# Imported target:
#   libfdt::libfdt        the library, with its include directory
#
# Result variables:
#   libfdt_FOUND          TRUE when both the header and the library were found
#   libfdt_INCLUDE_DIRS   directory that holds libfdt.h
#   libfdt_LIBRARIES      the library to link
#   libfdt_VERSION        version, when pkg-config knew it (libfdt.h has none)
#
# Cache variables (set them to override the search):
#   libfdt_INCLUDE_DIR    directory that holds libfdt.h
#   libfdt_LIBRARY        path to libfdt.so / libfdt.a
#
# Hints: libfdt_ROOT, CMAKE_PREFIX_PATH.

find_path(libfdt_INCLUDE_DIR NAMES libfdt.h PATH_SUFFIXES libfdt)
find_library(libfdt_LIBRARY NAMES fdt libfdt)

if(NOT libfdt_INCLUDE_DIR OR NOT libfdt_LIBRARY)
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(PC_libfdt QUIET libfdt)
    if(PC_libfdt_FOUND)
      # NOTFOUND cache entries are searched again, now with pkg-config's hints.
      find_path(libfdt_INCLUDE_DIR NAMES libfdt.h HINTS ${PC_libfdt_INCLUDEDIR} ${PC_libfdt_INCLUDE_DIRS})
      find_library(libfdt_LIBRARY NAMES fdt libfdt HINTS ${PC_libfdt_LIBDIR} ${PC_libfdt_LIBRARY_DIRS})
      set(libfdt_VERSION "${PC_libfdt_VERSION}")
    endif()
  endif()
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(libfdt
  REQUIRED_VARS libfdt_LIBRARY libfdt_INCLUDE_DIR
  VERSION_VAR libfdt_VERSION
  REASON_FAILURE_MESSAGE "install libfdt-dev (Debian/Ubuntu) or dtc-devel / libfdt-devel, or set libfdt_ROOT")

if(libfdt_FOUND)
  set(libfdt_INCLUDE_DIRS "${libfdt_INCLUDE_DIR}")
  set(libfdt_LIBRARIES "${libfdt_LIBRARY}")
  if(NOT TARGET libfdt::libfdt)
    add_library(libfdt::libfdt UNKNOWN IMPORTED)
    set_target_properties(libfdt::libfdt PROPERTIES
      IMPORTED_LOCATION "${libfdt_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${libfdt_INCLUDE_DIR}")
  endif()
endif()

mark_as_advanced(libfdt_INCLUDE_DIR libfdt_LIBRARY)
