// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `crc16-ccitt`: the CRC-16 U-Boot's hash table names so (polynomial
/// 0x1021, initial value 0, unreflected: CRC-16/XMODEM), stored big-endian.
/// mkimage fills it and U-Boot checks it like any other hash node.

#include <fitstream/hash/concept.hpp>

#include <boost/crc.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace fitstream {
namespace hash {

/// FIT `algo = "crc16-ccitt"`.
class crc16_ccitt {
public:
    static constexpr std::string_view fit_name = "crc16-ccitt";
    static constexpr std::size_t digest_size = 2;

    /// Adds [data, data + size); never throws.
    void update(const void* data, std::size_t size) { crc_.process_bytes(data, size); }
    /// @returns the CRC so far, big-endian (as U-Boot stores it).
    std::array<std::uint8_t, digest_size> final() {
        const auto value = crc_.checksum();
        return {static_cast<std::uint8_t>(value >> 8), static_cast<std::uint8_t>(value)};
    }

private:
    boost::crc_optimal<16, 0x1021, 0, 0, false, false> crc_;  // CRC-16/XMODEM (Boost's crc_xmodem_type is a reflected variant)
};

static_assert(check_hash<crc16_ccitt>());

}  // namespace hash
}  // namespace fitstream
