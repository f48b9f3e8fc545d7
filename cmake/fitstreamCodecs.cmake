# fitstreamCodecs.cmake -- the library behind each optional codec, and how
# to find it. Used by the top-level CMakeLists.txt and, installed next to
# fitstreamConfig.cmake, by that file, so a build tree and an installed
# package look for the same things the same way.
#
#   FITSTREAM_CODEC_COMPONENTS
#       the codecs that need a library beyond fitstream::core (none and
#       gzip need only zlib, which core has), in codec_names() order
#
#   fitstream_find_codec_library(<codec> <target-var> <hint-var>)
#       looks for <codec>'s library without failing; sets <target-var> to
#       the imported target to link, or to "" when it is missing, and
#       <hint-var> to the package that provides it

set(FITSTREAM_CODEC_COMPONENTS bzip2 lzma lzo lz4 zstd)

function(fitstream_find_codec_library codec target_var hint_var)
  set(_target "")
  if(codec STREQUAL "zstd")
    set(_hint "libzstd-dev, or set zstd_DIR / CMAKE_PREFIX_PATH")
    if(NOT TARGET zstd::libzstd_shared)
      find_package(zstd CONFIG QUIET)                 # Debian ships zstdConfig.cmake
    endif()
    if(NOT TARGET zstd::libzstd_shared)
      # No CMake config (older distributions): find it by hand under the same name.
      find_path(FITSTREAM_ZSTD_INCLUDE_DIR NAMES zstd.h)
      find_library(FITSTREAM_ZSTD_LIBRARY NAMES zstd)
      mark_as_advanced(FITSTREAM_ZSTD_INCLUDE_DIR FITSTREAM_ZSTD_LIBRARY)
      if(FITSTREAM_ZSTD_INCLUDE_DIR AND FITSTREAM_ZSTD_LIBRARY)
        add_library(zstd::libzstd_shared UNKNOWN IMPORTED)
        set_target_properties(zstd::libzstd_shared PROPERTIES
          IMPORTED_LOCATION "${FITSTREAM_ZSTD_LIBRARY}"
          INTERFACE_INCLUDE_DIRECTORIES "${FITSTREAM_ZSTD_INCLUDE_DIR}")
      endif()
    endif()
    if(TARGET zstd::libzstd_shared)
      set(_target zstd::libzstd_shared)
    endif()
  elseif(codec STREQUAL "lz4")
    set(_hint "liblz4-dev (lz4frame.h, liblz4 >= 1.8), or set lz4_ROOT")
    find_package(lz4 1.8 MODULE QUIET)                # cmake/Findlz4.cmake
    if(TARGET lz4::lz4)
      set(_target lz4::lz4)
    endif()
  elseif(codec STREQUAL "lzma")
    set(_hint "liblzma-dev, or set LIBLZMA_INCLUDE_DIR / LIBLZMA_LIBRARY")
    find_package(LibLZMA QUIET)                       # CMake's FindLibLZMA
    if(TARGET LibLZMA::LibLZMA)
      set(_target LibLZMA::LibLZMA)
    endif()
  elseif(codec STREQUAL "bzip2")
    set(_hint "libbz2-dev, or set BZIP2_INCLUDE_DIR / BZIP2_LIBRARIES")
    find_package(BZip2 QUIET)                         # CMake's FindBZip2
    if(TARGET BZip2::BZip2)
      set(_target BZip2::BZip2)
    endif()
  elseif(codec STREQUAL "lzo")
    set(_hint "liblzo2-dev, or set lzo2_ROOT")
    find_package(lzo2 MODULE QUIET)                   # cmake/Findlzo2.cmake
    if(TARGET lzo2::lzo2)
      set(_target lzo2::lzo2)
    endif()
  else()
    message(FATAL_ERROR "fitstream: unknown codec component '${codec}' (known: ${FITSTREAM_CODEC_COMPONENTS})")
  endif()
  set(${target_var} "${_target}" PARENT_SCOPE)
  set(${hint_var} "${_hint}" PARENT_SCOPE)
endfunction()
