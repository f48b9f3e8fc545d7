// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// The timestamp reproducible builds ask for
/// (https://reproducible-builds.org/specs/source-date-epoch/).

#include <fitstream/error.hpp>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

namespace fitstream {

/// SOURCE_DATE_EPOCH as a FIT timestamp: std::nullopt when the variable is
/// unset or empty.
/// @throws fitstream::error (errc::invalid_argument, subject
///         "SOURCE_DATE_EPOCH") when it is set but is not a whole decimal
///         number of seconds from 0 to 4294967295 (the FIT's 32-bit field).
inline std::optional<std::uint32_t> source_date_epoch() {
    const char* value = std::getenv("SOURCE_DATE_EPOCH");
    if (!value || !*value) return std::nullopt;
    errno = 0;
    char* end = nullptr;
    const unsigned long long seconds = std::strtoull(value, &end, 10);
    if (*value < '0' || *value > '9' || *end != '\0' || errno == ERANGE || seconds > 0xFFFFFFFFull)
        throw error(errc::invalid_argument, "SOURCE_DATE_EPOCH",
                    std::string("'") + value + "' is not a number of seconds between 0 and 4294967295");
    return static_cast<std::uint32_t>(seconds);
}

}  // namespace fitstream
