// SPDX-License-Identifier: MIT
#pragma once

// The libfdt adapter: its error category, a checked call, and the header
// checks fdt_check_full needs first. Only this header includes <libfdt.h>;
// the sequential writer the FIT structure is built with is in
// detail/write/fdt_builder.hpp.

#include <fitstream/error.hpp>

#include <libfdt.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace fitstream {

namespace detail {
struct libfdt_traits {
    static constexpr const char* name = "libfdt";
    // libfdt returns negative codes; we store them as it returned them.
    static std::string message(int ev) { return fdt_strerror(ev); }
};
}  // namespace detail

/// Errors reported by libfdt (negative FDT_ERR_* codes, text from fdt_strerror).
inline const std::error_category& libfdt_category() noexcept {
    static const detail::library_category_impl<detail::libfdt_traits> instance;
    return instance;
}

namespace detail {

/// Throws a libfdt error unless `rc` is non-negative.
inline int fdt_check(int rc, const std::string& subject, const char* detail = "") {
    if (rc < 0) throw error(std::error_code(rc, libfdt_category()), subject, detail);
    return rc;
}

/// The oldest devicetree version fitstream reads. Before 16, node names are
/// full paths; libfdt 1.6.1 (Debian 12's) dereferences NULL in
/// fdt_check_full when such a root name has no '/' (fdt_get_name fails and
/// its result is used unchecked). Every tool that writes FITs writes 17.
inline constexpr std::uint32_t min_fdt_version = 16;

/// fdt_check_full over `size` bytes at `fdt` (8-byte aligned), after the
/// checks it cannot be trusted without: a whole header, the magic, and a
/// version it handles safely. Returns 0 or a negative FDT_ERR_* code.
inline int check_fdt(const void* fdt, std::size_t size) {
    if (size < sizeof(fdt_header)) return -FDT_ERR_TRUNCATED;
    if (fdt_magic(fdt) != FDT_MAGIC) return -FDT_ERR_BADMAGIC;
    if (fdt_version(fdt) < min_fdt_version) return -FDT_ERR_BADVERSION;
    return fdt_check_full(fdt, size);
}

}  // namespace detail
}  // namespace fitstream
