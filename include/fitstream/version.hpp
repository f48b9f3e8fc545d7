// fitstream — a streaming writer for U-Boot Flat Image Trees.
// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// The library version; CMake reads the three macros below, nothing else
/// states the version.

#define FITSTREAM_VERSION_MAJOR 0
#define FITSTREAM_VERSION_MINOR 1
#define FITSTREAM_VERSION_PATCH 0

#define FITSTREAM_DETAIL_STR2(x) #x
#define FITSTREAM_DETAIL_STR(x) FITSTREAM_DETAIL_STR2(x)
#define FITSTREAM_VERSION_STRING                                                \
    FITSTREAM_DETAIL_STR(FITSTREAM_VERSION_MAJOR)                               \
    "." FITSTREAM_DETAIL_STR(FITSTREAM_VERSION_MINOR) "." FITSTREAM_DETAIL_STR( \
        FITSTREAM_VERSION_PATCH)

namespace fitstream {

/// The library version as "MAJOR.MINOR.PATCH".
constexpr const char* version_string() noexcept { return FITSTREAM_VERSION_STRING; }

}  // namespace fitstream
