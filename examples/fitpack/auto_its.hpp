// SPDX-License-Identifier: MIT
#pragma once

// mkimage's `-f auto`: a FIT of one image (-d), any number of DTBs (-b) and
// a ramdisk (-i), with one configuration per DTB. fitpack writes the image
// tree source mkimage's fit_build() would have built (tools/fit_image.c,
// U-Boot 2023.01: node names, property order, hash-1 crc32 or, with -g and
// keys, signature-1 nodes) and builds it like any other source, so the
// payloads stream as they do there.

#include "exit_status.hpp"

#include <fitstream/error.hpp>

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

namespace fitpack {

/// What `-f auto` takes from the command line.
struct auto_fit_arguments {
    std::string type = "kernel";  // -T
    std::string arch;             // -A
    std::string os = "linux";     // -O
    std::string compression = "none";  // -C (what the -d file already is)
    std::optional<std::uint64_t> load;   // -a
    std::optional<std::uint64_t> entry;  // -e
    std::string name;                    // -n
    std::string data;                    // -d
    std::vector<std::string> dtbs;       // -b
    std::string ramdisk;                 // -i
    std::string key_name_hint;           // -g
    bool signing = false;                // -k or -G given
    std::string algo;                    // -o
};

namespace detail {

// A devicetree source string literal of `s`.
inline std::string dts_string(const std::string& s) {
    std::string out = "\"";
    for (const unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20 || c >= 0x7f) {
            char hex[8];
            std::snprintf(hex, sizeof hex, "\\x%02x", c);
            out += hex;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
}

// The base name without its extension, as mkimage's get_basename.
inline std::string auto_base_name(const std::string& path) {
    const auto slash = path.rfind('/');
    std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    const auto dot = base.rfind('.');
    return dot == std::string::npos ? base : base.substr(0, dot);
}

// U-Boot's long names of the image types -f auto is used with.
inline std::string type_long_name(const std::string& type) {
    if (type == "kernel") return "Kernel Image";
    if (type == "kernel_noload") return "Kernel Image (no loading done)";
    if (type == "standalone") return "Standalone Program";
    if (type == "firmware") return "Firmware";
    if (type == "ramdisk") return "RAMDisk Image";
    if (type == "script") return "Script";
    if (type == "filesystem") return "Filesystem Image";
    throw usage_error("-T " + type + ": -f auto takes kernel, kernel_noload, standalone, firmware, ramdisk, script "
                      "or filesystem");
}

inline std::string cell(std::uint64_t v) {
    char text[24];
    std::snprintf(text, sizeof text, "<0x%llx>", static_cast<unsigned long long>(v));
    return text;
}

}  // namespace detail

/// The image tree source mkimage -f auto builds for `a`; `creator` is the
/// root's `creator` value.
inline std::string auto_its_source(const auto_fit_arguments& a, const std::string& creator) {
    if (a.data.empty()) throw usage_error("-f auto needs -d FILE (the image)");
    if (a.arch.empty()) throw usage_error("-f auto needs -A ARCH");
    const bool sign = a.signing && !a.key_name_hint.empty();
    if (sign && a.algo.empty()) throw usage_error("-f auto with -g needs the signing algorithm (-o), as mkimage");
    if (a.load && *a.load > 0xffffffffu) throw usage_error("-a: mkimage's -f auto writes a one-cell load address");
    if (a.entry && *a.entry > 0xffffffffu) throw usage_error("-e: mkimage's -f auto writes a one-cell entry point");
    const auto verification = [&] {
        return sign ? "signature-1 { algo = " + detail::dts_string(a.algo) +
                          "; key-name-hint = " + detail::dts_string(a.key_name_hint) + "; };\n"
                    : std::string("hash-1 { algo = \"crc32\"; };\n");
    };
    const std::string image_node = a.type + "-1";
    std::string s = "/dts-v1/;\n/ {\n";
    s += "description = " + detail::dts_string(detail::type_long_name(a.type) + " image with one or more FDT blobs") +
         ";\ncreator = " + detail::dts_string(creator) + ";\n#address-cells = <1>;\nimages {\n";
    const std::uint64_t load = a.load.value_or(0);
    s += image_node + " {\ndescription = " + detail::dts_string(a.name) + ";\ntype = " + detail::dts_string(a.type) +
         ";\narch = " + detail::dts_string(a.arch) + ";\nos = " + detail::dts_string(a.os) +
         ";\ncompression = " + detail::dts_string(a.compression) + ";\nload = " + detail::cell(load) +
         ";\nentry = " + detail::cell(a.entry.value_or(load)) + ";\ndata = /incbin/(" + detail::dts_string(a.data) +
         ");\n" + verification() + "};\n";
    for (std::size_t i = 0; i < a.dtbs.size(); ++i) {
        s += "fdt-" + std::to_string(i + 1) + " {\ndescription = " +
             detail::dts_string(detail::auto_base_name(a.dtbs[i])) + ";\ndata = /incbin/(" +
             detail::dts_string(a.dtbs[i]) + ");\ntype = \"flat_dt\";\narch = " + detail::dts_string(a.arch) +
             ";\ncompression = \"none\";\n" + verification() + "};\n";
    }
    if (!a.ramdisk.empty())
        s += "ramdisk-1 {\ntype = \"ramdisk\";\nos = " + detail::dts_string(a.os) + ";\narch = " +
             detail::dts_string(a.arch) + ";\ndata = /incbin/(" + detail::dts_string(a.ramdisk) + ");\n" +
             verification() + "};\n";
    s += "};\nconfigurations {\ndefault = \"conf-1\";\n";
    // The image is named by a property called after its type, as mkimage does.
    const std::string ramdisk = a.ramdisk.empty() ? "" : "ramdisk = \"ramdisk-1\";\n";
    for (std::size_t i = 0; i < a.dtbs.size(); ++i) {
        s += "conf-" + std::to_string(i + 1) + " {\ndescription = " +
             detail::dts_string(detail::auto_base_name(a.dtbs[i])) + ";\n" + a.type + " = " +
             detail::dts_string(image_node) + ";\nloadables = " + detail::dts_string(image_node) + ";\n" + ramdisk +
             "fdt = \"fdt-" + std::to_string(i + 1) + "\";\n};\n";
    }
    if (a.dtbs.empty()) s += "conf-1 {\n" + a.type + " = " + detail::dts_string(image_node) + ";\n" + ramdisk + "};\n";
    s += "};\n};\n";
    return s;
}

}  // namespace fitpack
