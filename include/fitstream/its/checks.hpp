// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// What mkimage lets through and U-Boot then refuses, caught while an image
/// tree source is built: payload bytes that are not in the container their
/// node's `compression` names, node names with '@', configurations naming
/// images that do not exist, a `default` naming no configuration, `load`
/// and `entry` values whose size does not match `#address-cells`.
///
/// @code
/// fitstream::its::check_tree(blob.data(), "image.its");  // throws on the first problem
/// auto what = fitstream::its::identify_payload(first_bytes);   // "gzip", "xz", ...
/// @endcode

#include <fitstream/detail/lib/libfdt.hpp>
#include <fitstream/detail/read/node_path.hpp>
#include <fitstream/detail/read/properties.hpp>
#include <fitstream/error.hpp>

#include <algorithm>
#include <array>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace fitstream {
namespace its {

/// How many leading bytes identify_payload() looks at.
inline constexpr std::size_t payload_head_size = 64;

/// What a payload's first bytes say it is: the FIT compression name of the
/// container U-Boot decodes for it ("gzip", "bzip2", "lzma", "lzo", "lz4",
/// "zstd"), another known format ("xz", "zlib", "lz4-legacy", "fdt",
/// "arm64-image", "elf"), or "" when the bytes are in no format fitstream
/// recognises (plain data).
inline std::string identify_payload(const std::uint8_t* head, std::size_t size) {
    const auto starts = [&](std::initializer_list<std::uint8_t> magic) {
        if (size < magic.size()) return false;
        return std::equal(magic.begin(), magic.end(), head);
    };
    if (starts({0x1f, 0x8b})) return "gzip";
    if (starts({0xfd, '7', 'z', 'X', 'Z', 0x00})) return "xz";
    if (starts({'B', 'Z', 'h'}) && size > 3 && head[3] >= '1' && head[3] <= '9') return "bzip2";
    if (starts({0x89, 'L', 'Z', 'O', 0x00, 0x0d, 0x0a, 0x1a, 0x0a})) return "lzo";
    if (starts({0x04, 0x22, 0x4d, 0x18})) return "lz4";
    if (starts({0x02, 0x21, 0x4c, 0x18})) return "lz4-legacy";
    if (starts({0x28, 0xb5, 0x2f, 0xfd})) return "zstd";
    if (starts({0xd0, 0x0d, 0xfe, 0xed})) return "fdt";
    if (starts({0x7f, 'E', 'L', 'F'})) return "elf";
    if (size >= 0x3c && std::memcmp(head + 0x38, "ARM\x64", 4) == 0) return "arm64-image";
    // LZMA_Alone (what U-Boot's lzma means): a properties byte below 225
    // and a dictionary size xz --format=lzma writes, 2^n or 2^n + 2^(n-1).
    // The uncompressed size that follows is -1 (unknown) or a size a real
    // payload has (below 2^40), which plain data rarely matches as well.
    const auto plausible_size = [&] {
        bool unknown = true;
        for (std::size_t i = 5; i < 13; ++i) unknown = unknown && head[i] == 0xff;
        return unknown || (head[10] == 0 && head[11] == 0 && head[12] == 0);
    };
    if (size >= 13 && head[0] < 225 && head[0] != 0 && plausible_size()) {
        const std::uint32_t dict = static_cast<std::uint32_t>(head[1]) | static_cast<std::uint32_t>(head[2]) << 8 |
                                   static_cast<std::uint32_t>(head[3]) << 16 |
                                   static_cast<std::uint32_t>(head[4]) << 24;
        const auto power_of_two = [](std::uint32_t v) { return v != 0 && (v & (v - 1)) == 0; };
        if (dict >= 4096 && (power_of_two(dict) || (dict % 3 == 0 && power_of_two(dict / 3 * 2)))) return "lzma";
    }
    // zlib: CM 8, a window of at most 32 KiB, and a header check that holds.
    if (size >= 2 && (head[0] & 0x0f) == 8 && (head[0] >> 4) <= 7 && ((head[0] << 8) | head[1]) % 31 == 0)
        return "zlib";
    return "";
}

/// A reader's words for what identify_payload() returned.
inline std::string describe_payload(const std::string& kind) {
    if (kind.empty()) return "not in a compressed format U-Boot decodes (plain data)";
    if (kind == "xz") return "an xz stream (U-Boot's lzma is LZMA_Alone, as xz --format=lzma writes)";
    if (kind == "zlib") return "a raw zlib stream (U-Boot's gzip needs the gzip header, as gzip -n writes)";
    if (kind == "lz4-legacy") return "an lz4 legacy frame (U-Boot's lz4 needs the lz4 frame format)";
    if (kind == "fdt") return "an uncompressed devicetree blob";
    if (kind == "arm64-image") return "an uncompressed arm64 kernel Image";
    if (kind == "elf") return "an ELF file";
    return kind + " data";
}

/// True when a payload identified as `kind` is stored correctly under
/// `compression` ("none" takes anything: a ramdisk may be compressed for
/// the kernel to unpack).
inline bool payload_matches(const std::string& compression, const std::string& kind) {
    return compression == "none" || compression == kind;
}

/// True when `kind` is a compressed container of any sort (so compressing
/// it again would be a mistake).
inline bool payload_is_compressed(const std::string& kind) {
    return kind == "gzip" || kind == "xz" || kind == "bzip2" || kind == "lzo" || kind == "lz4" ||
           kind == "lz4-legacy" || kind == "zstd" || kind == "lzma" || kind == "zlib";
}


/// The configuration properties that name images (U-Boot's FIT_*_PROP).
inline constexpr std::array<const char*, 9> image_reference_properties = {
    "kernel", "fdt", "ramdisk", "loadables", "fpga", "setup", "firmware", "standalone", "script"};

/// Checks the tree of a compiled image tree source (see the file comment).
/// `source` names the .its in messages; the subject of an error is the
/// node's path.
/// @throws fitstream::error (errc::invalid_argument) on the first problem.
inline void check_tree(const void* fdt, const std::string& source) {
    const auto fail = [&](const std::string& subject, const std::string& reason) {
        return error(errc::invalid_argument, source + ": " + subject, reason);
    };
    // '@' anywhere: U-Boot's fit_check_format refuses a FIT with a unit
    // address in a node name before it checks a signature (CVE-2021-27138).
    fitstream::detail::for_each_node(fdt, INT_MAX, [&](const std::string& path, const std::string& name) {
        if (name.find('@') != std::string::npos)
            throw fail(path, "node name contains '@', which U-Boot refuses when it checks signatures");
    });
    // U-Boot's fit_check_format refuses a FIT without a root description.
    if (!fdt_getprop(fdt, 0, "description", nullptr))
        throw fail("/", "no description (U-Boot refuses a FIT without one: \"Wrong FIT format: no description\")");
    const int images = fdt_path_offset(fdt, "/images");
    if (images < 0) throw fail("/images", "the source has no /images node");
    std::unordered_set<std::string> image_names;
    int address_cells = 0;
    int len = 0;
    if (const void* cells = fdt_getprop(fdt, 0, "#address-cells", &len)) {
        if (len != 4) throw fail("/#address-cells", "must be one cell");
        address_cells = static_cast<int>(fdt32_ld(static_cast<const fdt32_t*>(cells)));
        if (address_cells != 1 && address_cells != 2) throw fail("/#address-cells", "must be 1 or 2");
    }
    int image;
    fdt_for_each_subnode(image, fdt, images) {
        const char* image_name = fdt_get_name(fdt, image, nullptr);
        const std::string path = std::string("/images/") + image_name;
        image_names.insert(image_name);
        for (const char* prop : {"load", "entry"}) {
            if (!fdt_getprop(fdt, image, prop, &len)) continue;
            const int cells = len / 4;
            if (len % 4 != 0 || cells < 1 || cells > 2 || (address_cells != 0 && cells != address_cells))
                throw fail(path, std::string(prop) + " has " + std::to_string(len) + " bytes, but " +
                                     (address_cells != 0 ? "#address-cells is " + std::to_string(address_cells)
                                                         : std::string("U-Boot reads one or two cells")));
        }
    }
    if (image < 0 && image != -FDT_ERR_NOTFOUND) fitstream::detail::fdt_check(image, source, "/images");

    const int confs = fdt_path_offset(fdt, "/configurations");
    std::unordered_set<std::string> conf_names;
    if (confs >= 0) {
        int conf;
        fdt_for_each_subnode(conf, fdt, confs) {
            const char* conf_name = fdt_get_name(fdt, conf, nullptr);
            conf_names.insert(conf_name);
            const std::string path = std::string("/configurations/") + conf_name;
            for (const char* prop : image_reference_properties) {
                for (const auto& name : fitstream::detail::fdt_strings_prop(fdt, conf, prop))
                    if (!image_names.count(name))
                        throw fail(path, std::string(prop) + " names image '" + name + "', which /images lacks");
            }
        }
        const auto defaults = fitstream::detail::fdt_strings_prop(fdt, confs, "default");
        if (!defaults.empty() && !conf_names.count(defaults.front()))
            throw fail("/configurations", "default names '" + defaults.front() + "', which is not a configuration");
    }
}

}  // namespace its
}  // namespace fitstream
