// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `crc32`: zlib's CRC-32, stored big-endian as U-Boot compares it.

#include <fitstream/detail/lib/zlib.hpp>
#include <fitstream/hash/concept.hpp>

namespace fitstream {
namespace hash {

/// FIT `algo = "crc32"`.
class crc32 {
public:
    static constexpr std::string_view fit_name = "crc32";
    static constexpr std::size_t digest_size = 4;

    /// Adds [data, data + size); never throws.
    void update(const void* data, std::size_t size) { crc_ = detail::crc32_update(crc_, data, size); }
    /// @returns the CRC-32 so far, big-endian (as U-Boot compares it).
    std::array<std::uint8_t, digest_size> final() {
        return {static_cast<std::uint8_t>(crc_ >> 24), static_cast<std::uint8_t>(crc_ >> 16),
                static_cast<std::uint8_t>(crc_ >> 8), static_cast<std::uint8_t>(crc_)};
    }

private:
    std::uint32_t crc_ = 0;
};

static_assert(check_hash<crc32>());

}  // namespace hash
}  // namespace fitstream
