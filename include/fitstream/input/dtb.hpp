// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// Inputs: what a devicetree blob says about its board (model and root
/// compatible), after checking that it is a complete, valid blob.

#include <fitstream/detail/io/file.hpp>
#include <fitstream/detail/lib/libfdt.hpp>
#include <fitstream/error.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace fitstream {

/// The largest DTB file inspect_dtb_file() reads: a DTB is at most a few
/// MiB, and anything near libfdt's int limit is not one.
inline constexpr std::uint64_t max_dtb_file_size = 256u << 20;

/// What a devicetree blob says about the board it describes.
struct dtb_info {
    std::optional<std::string> model;     ///< root `model`, when present
    std::vector<std::string> compatible;  ///< root `compatible`, most specific first
};

/// Checks a DTB in memory with fdt_check_full and reads its root `model`
/// and `compatible`.
/// @param name appears in error messages (usually the file name)
/// @throws fitstream::error (errc::invalid_input) when the bytes are not a
///         complete, valid devicetree, or its model/compatible are not
///         NUL-terminated strings.
inline dtb_info inspect_dtb(const void* data, std::size_t size, const std::string& name) {
    if (size == 0) throw error(errc::invalid_input, name, "empty file, not a devicetree blob");
    if (size < sizeof(fdt_header)) throw error(errc::invalid_input, name, "too short to be a devicetree blob");
    if (size > static_cast<std::size_t>(INT32_MAX))
        throw error(errc::invalid_input, name, "too large for a devicetree blob (libfdt's limit is 2 GiB)");
    // libfdt refuses a blob that is not 8-byte aligned (FDT_ERR_ALIGNMENT):
    // inspect an aligned copy, wherever the caller's bytes are.
    std::vector<std::uint64_t> aligned((size + 7) / 8);
    std::memcpy(aligned.data(), data, size);
    const void* fdt = aligned.data();
    if (fdt_magic(fdt) != FDT_MAGIC) throw error(errc::invalid_input, name, "not a devicetree blob (bad magic)");
    if (fdt_totalsize(fdt) > size)
        throw error(errc::invalid_input, name,
                    "truncated devicetree blob (header says " + std::to_string(fdt_totalsize(fdt)) +
                        " bytes, file has " + std::to_string(size) + ")");
    const int rc = detail::check_fdt(fdt, size);
    if (rc < 0) throw error(std::error_code(rc, libfdt_category()), name, "invalid devicetree blob");

    dtb_info info;
    int len = 0;
    if (const auto* model = static_cast<const char*>(fdt_getprop(fdt, 0, "model", &len))) {
        if (len <= 0 || model[len - 1] != '\0')
            throw error(errc::invalid_input, name, "root 'model' is not a string");
        info.model = std::string(model);
    }
    if (const auto* compat = static_cast<const char*>(fdt_getprop(fdt, 0, "compatible", &len))) {
        if (len <= 0 || compat[len - 1] != '\0')
            throw error(errc::invalid_input, name, "root 'compatible' is not a string list");
        for (int pos = 0; pos < len;) {
            std::string entry(compat + pos);
            pos += static_cast<int>(entry.size()) + 1;
            info.compatible.push_back(std::move(entry));
        }
    }
    return info;
}

namespace detail {

// A DTB file's bytes, at most max_dtb_file_size of them.
inline std::string read_dtb_file(const std::string& path) {
    return read_file_bounded(path, max_dtb_file_size, "devicetree blob");
}

}  // namespace detail

/// Reads a DTB file and inspects it as `inspect_dtb(data, size, name)` does.
/// @throws fitstream::error for I/O failures (OS category) and invalid blobs.
inline dtb_info inspect_dtb_file(const std::string& path) {
    const auto bytes = detail::read_dtb_file(path);
    return inspect_dtb(bytes.data(), bytes.size(), path);
}

}  // namespace fitstream
