// SPDX-License-Identifier: MIT
#pragma once

// Which bytes of a FIT a configuration signature covers, decided as U-Boot
// decides them, and the limits U-Boot puts on signed FITs. Needs libfdt
// only: the digest over these regions is made with the keys
// (<fitstream/sign/key.hpp>).
//
// A configuration signature covers the devicetree *structure* of "/", the
// configuration, and each image the configuration names with its hash-*
// nodes (their properties and subnode tags; mkimage lists these nodes in
// `hashed-nodes`, U-Boot works them out itself), minus every `data`,
// `data-size`, `data-offset` and `data-position` property, plus the first
// `hashed-strings[1]` bytes of the strings block. U-Boot's
// fdt_find_regions() (boot/fdt_region.c) decides the regions and
// find_signed_regions() below reproduces it, quirks included. The payload
// bytes are covered through the image hashes, so a signature can be made
// once every hash is known, before the structure is written.
//
// An image signature covers the image's stored bytes only; fitstream signs
// the digest its hash node of the same algorithm already holds.

#include <fitstream/detail/lib/libfdt.hpp>
#include <fitstream/error.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fitstream {
namespace detail {

// A byte range of a blob.
struct byte_region {
    std::size_t offset = 0;
    std::size_t size = 0;
};

// Property names a configuration signature never covers (U-Boot's exc_prop
// in fit_config_check_sig): the image hashes cover the data.
inline bool excluded_from_signature(std::string_view name) {
    return name == "data" || name == "data-size" || name == "data-position" || name == "data-offset";
}

// U-Boot's CONFIG_FIT_SIGNATURE_MAX_SIZE, as configured by default: its
// fit_image_setup_verify() (boot/image-fit-sig.c) refuses to check any
// signature, image or configuration, of a FIT whose FDT totalsize is larger
// ("Total size too large"). With embedded data that is the whole FIT.
inline constexpr std::uint64_t max_signed_fit_size = 0x10000000;  // 256 MiB

// Throws errc::invalid_argument, naming `subject`, when U-Boot would not
// check the signatures of a FIT whose FDT totalsize is `totalsize`.
inline void check_signed_fit_size(std::uint64_t totalsize, const std::string& subject) {
    if (totalsize > max_signed_fit_size)
        throw error(errc::invalid_argument, subject,
                    "FIT structure of " + std::to_string(totalsize) + " bytes: U-Boot checks no signature of a FIT "
                    "over " + std::to_string(max_signed_fit_size) + " bytes (FIT_SIGNATURE_MAX_SIZE; external data "
                    "keeps the structure small)");
}

// U-Boot's limits in fit_config_check_sig (nodes to hash, its path buffer)
// and fdt_find_regions (FDT_MAX_DEPTH).
inline constexpr std::size_t max_hashed_nodes = 100;
inline constexpr std::size_t max_region_path = 200;
inline constexpr int max_region_depth = 32;

// The structure regions U-Boot's fdt_find_regions() returns for the nodes
// `include` (full paths), excluding the data properties, as byte ranges
// from the start of `fdt`; the strings region is not among them. Its rules,
// kept exactly: an included node brings its properties, its subnodes'
// begin and end tags (not their properties) and, where a region closes on
// an end tag of a node not included, that end tag too; a region that starts
// where the previous one ended extends it; FDT_END closes the last one.
// Throws errc::bad_image, naming `subject`, where U-Boot fails: a corrupt
// structure, nodes 32 deep, a path of 200 bytes or more, more regions than
// fit_config_check_sig's array holds (20 + 7 per node, one kept back for
// the strings).
inline std::vector<byte_region> find_signed_regions(const void* fdt, const std::vector<std::string>& include,
                                                    const std::string& subject) {
    const auto fail = [&](const std::string& why) { return error(errc::bad_image, subject, why); };
    const auto listed = [&](const std::string& path) {
        return std::find(include.begin(), include.end(), path) != include.end();
    };
    const int base = static_cast<int>(fdt_off_dt_struct(fdt));
    std::vector<byte_region> regions;
    std::vector<int> want_stack;
    std::vector<std::size_t> path_lengths;
    std::string path;
    int next = 0, start = -1, want = 0;
    bool expect_end = false;
    std::uint32_t tag = 0;
    do {
        const int offset = next;
        tag = fdt_next_tag(fdt, offset, &next);
        if (next < 0) throw fail("corrupt structure block");
        int stop_at = next;
        int include_tag = 0;
        if (expect_end && tag != FDT_END) throw fail("a second root node");
        switch (tag) {
            case FDT_PROP: {
                include_tag = want >= 2;
                stop_at = offset;
                int len = 0;
                const struct fdt_property* prop = fdt_get_property_by_offset(fdt, offset, &len);
                const char* name = prop ? fdt_string(fdt, static_cast<int>(fdt32_ld(&prop->nameoff))) : nullptr;
                if (!name) throw fail("property without a name");
                if (excluded_from_signature(name)) include_tag = 0;
                break;
            }
            case FDT_NOP:
                include_tag = want >= 2;
                stop_at = offset;
                break;
            case FDT_BEGIN_NODE: {
                // U-Boot's depth counts from 0 at the root and fails on reaching 32.
                const int depth = static_cast<int>(want_stack.size());
                if (depth >= max_region_depth) throw fail("nodes nested too deeply for U-Boot");
                int len = 0;
                const char* name = fdt_get_name(fdt, offset, &len);
                if (!name) throw fail("node without a name");
                if (depth == 0 && len != 0) throw fail("root node has a name");
                if (path.size() + 2 + static_cast<std::size_t>(len) >= max_region_path)
                    throw fail("node path longer than U-Boot's 200-byte limit");
                path_lengths.push_back(path.size());
                if (path.size() != 1) path += '/';
                path.append(name, static_cast<std::size_t>(len));
                want_stack.push_back(want);
                if (want == 1) stop_at = offset;
                if (listed(path))
                    want = 2;
                else if (want)
                    --want;
                else
                    stop_at = offset;
                include_tag = want;
                break;
            }
            case FDT_END_NODE:
                if (want_stack.empty()) throw fail("unbalanced end of node");
                include_tag = want;
                want = want_stack.back();
                want_stack.pop_back();
                path.resize(path_lengths.back());
                path_lengths.pop_back();
                if (want_stack.empty()) expect_end = true;
                break;
            case FDT_END:
                include_tag = 1;
                break;
            default:
                throw fail("unknown structure tag");
        }
        if (include_tag && start == -1) {
            // Continue the previous region when this one starts where it ended.
            if (!regions.empty() &&
                static_cast<std::size_t>(base + offset) == regions.back().offset + regions.back().size) {
                start = static_cast<int>(regions.back().offset) - base;
                regions.pop_back();
            } else {
                start = offset;
            }
        }
        if (!include_tag && start != -1) {
            regions.push_back({static_cast<std::size_t>(base + start), static_cast<std::size_t>(stop_at - start)});
            start = -1;
        }
    } while (tag != FDT_END);
    if (next != static_cast<int>(fdt_size_dt_struct(fdt))) throw fail("structure block size does not match its end");
    regions.push_back({static_cast<std::size_t>(base + start), static_cast<std::size_t>(next - start)});
    // U-Boot's region array: 20 + 7 per node, one kept back for the strings.
    if (regions.size() >= 20 + 7 * include.size() - 1) throw fail("too many hash regions for U-Boot");
    return regions;
}

// An image a configuration signature covers, for hashed_node_list().
struct hashed_image {
    std::string name;                 // image node name
    std::vector<std::string> hashes;  // its hash-* subnode names, in order
};

// The `hashed-nodes` of a configuration signature, as mkimage lists them
// (tools/image-host.c, fit_config_get_hash_list): "/", the configuration,
// then each image, in `images` order, followed by its hash-* subnodes.
inline std::vector<std::string> hashed_node_list(const std::string& configuration,
                                                 const std::vector<hashed_image>& images) {
    std::vector<std::string> nodes{"/", "/configurations/" + configuration};
    for (const auto& img : images) {
        nodes.push_back("/images/" + img.name);
        for (const auto& h : img.hashes) nodes.push_back("/images/" + img.name + "/" + h);
    }
    return nodes;
}

}  // namespace detail
}  // namespace fitstream
