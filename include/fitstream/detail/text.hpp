// SPDX-License-Identifier: MIT
#pragma once

// Small text helpers every stage needs, each written once: which
// characters a FIT node name may hold, hex digests, a path's last part.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fitstream {
namespace detail {

// The characters U-Boot accepts in a FIT node name: devicetree's node-name
// set without '#' and '@'. '@' (a unit address) is refused because U-Boot
// refuses it when it checks signatures (CVE-2021-27138: fdt_check_no_at()
// in fit_check_format(), U-Boot's boot/image-fit.c).
constexpr bool is_node_name_char(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ',' || c == '.' ||
           c == '_' || c == '+' || c == '-';
}

// The first character of `name` that is_node_name_char() refuses, or
// npos when there is none.
inline std::size_t bad_node_name_char(std::string_view name) noexcept {
    for (std::size_t i = 0; i < name.size(); ++i)
        if (!is_node_name_char(name[i])) return i;
    return std::string_view::npos;
}

// Lower-case hex of `bytes`, as dumpimage and fdtget print digests.
inline std::string hex(const std::uint8_t* bytes, std::size_t size) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(size * 2);
    for (std::size_t i = 0; i < size; ++i) {
        out += digits[bytes[i] >> 4];
        out += digits[bytes[i] & 15];
    }
    return out;
}

inline std::string hex(const std::vector<std::uint8_t>& bytes) { return hex(bytes.data(), bytes.size()); }

// What follows the last '/' of `path` (all of it when there is none).
inline std::string base_name(const std::string& path) {
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

inline bool has_prefix(std::string_view s, std::string_view prefix) noexcept {
    return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

inline bool has_suffix(std::string_view s, std::string_view suffix) noexcept {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace detail
}  // namespace fitstream
