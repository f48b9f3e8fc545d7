// SPDX-License-Identifier: MIT
#pragma once

// Property values of a devicetree as FIT readers take them, each written
// once: a string, one 32-bit cell, one or two cells. libfdt's fdt32_ld and
// fdt64_ld load them, so no alignment is assumed.

#include <fitstream/detail/lib/libfdt.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace fitstream {
namespace detail {

// The value of a NUL-terminated property without its final NUL; empty when
// the property is absent, empty or not NUL-terminated.
inline std::string fdt_string_prop(const void* fdt, int node, const char* name) {
    int len = 0;
    const auto* p = static_cast<const char*>(fdt_getprop(fdt, node, name, &len));
    if (!p || len <= 0 || p[len - 1] != '\0') return {};
    return std::string(p, static_cast<std::size_t>(len - 1));
}

// The strings of a string list, split in one pass (fdt_stringlist_get()
// would rescan the list from its start for each index, quadratic in a
// hostile list); an unterminated last string is kept as it is. Empty when
// the property is absent.
inline std::vector<std::string> fdt_strings_prop(const void* fdt, int node, const char* name) {
    std::vector<std::string> out;
    int len = 0;
    const auto* p = static_cast<const char*>(fdt_getprop(fdt, node, name, &len));
    if (!p) return out;
    for (int pos = 0; pos < len;) {
        const std::size_t n = strnlen(p + pos, static_cast<std::size_t>(len - pos));
        out.emplace_back(p + pos, n);
        pos += static_cast<int>(n) + 1;
    }
    return out;
}

// The first string of a list (what mkimage and U-Boot read of a string
// property), "" when absent.
inline std::string fdt_first_string_prop(const void* fdt, int node, const char* name) {
    auto all = fdt_strings_prop(fdt, node, name);
    return all.empty() ? std::string() : std::move(all.front());
}

// A property of exactly one 32-bit cell; nullopt when absent or another size.
inline std::optional<std::uint32_t> fdt_u32_prop(const void* fdt, int node, const char* name) {
    int len = 0;
    const auto* p = static_cast<const fdt32_t*>(fdt_getprop(fdt, node, name, &len));
    if (!p || len != 4) return std::nullopt;
    return fdt32_ld(p);
}

// A property of one or two cells (high cell first); nullopt when absent or
// another size.
inline std::optional<std::uint64_t> fdt_cells_prop(const void* fdt, int node, const char* name) {
    int len = 0;
    const void* p = fdt_getprop(fdt, node, name, &len);
    if (!p || (len != 4 && len != 8)) return std::nullopt;
    if (len == 4) return fdt32_ld(static_cast<const fdt32_t*>(p));
    return fdt64_ld(static_cast<const fdt64_t*>(p));
}

}  // namespace detail
}  // namespace fitstream
