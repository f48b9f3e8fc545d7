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
#include <unordered_map>
#include <unordered_set>
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

// The structure regions U-Boot's fdt_find_regions() returns for a list of
// nodes, excluding the data properties, as byte ranges from the start of
// the blob; the strings region is not among them. Its rules, kept exactly:
// an included node brings its properties, its subnodes' begin and end tags
// (not their properties) and, where a region closes on an end tag of a node
// not included, that end tag too; a region that starts where the previous
// one ended extends it; FDT_END closes the last one. U-Boot fails (and so
// does regions()) on a corrupt structure, nodes 32 deep, a path of 200
// bytes or more, more regions than fit_config_check_sig's array holds (20 +
// 7 per node, one kept back for the strings).
//
// U-Boot walks the whole structure for every signature, which makes a FIT
// of many signed configurations quadratic. Here the structure is walked
// once (the tags, the nodes, their paths and whatever makes U-Boot fail
// anywhere in the tree) and each node list then visits only what it can
// include: the nodes it lists with their properties and subnodes, their
// ancestors, and the root's own tags and subnodes.
class signed_region_index {
public:
    explicit signed_region_index(const void* fdt) : fdt_(fdt) { walk(); }

    // The regions for the nodes `include` (full paths); throws
    // errc::bad_image, naming `subject`, where U-Boot fails.
    std::vector<byte_region> regions(const std::vector<std::string>& include, const std::string& subject) const {
        if (!failure_.empty()) throw error(errc::bad_image, subject, failure_);
        // The listed nodes and every ancestor of one: the only nodes below a
        // node that includes no subnode tags that can include anything.
        std::unordered_set<int> listed;
        std::unordered_map<int, std::vector<int>> interesting;  // node -> its interesting children
        for (const auto& path : include) {
            const auto it = by_path_.find(path);
            if (it == by_path_.end()) continue;
            for (const int node : it->second) {
                if (!listed.insert(node).second) continue;
                for (int child = node, parent = nodes_[static_cast<std::size_t>(node)].parent; parent >= 0;
                     child = parent, parent = nodes_[static_cast<std::size_t>(parent)].parent) {
                    auto& list = interesting[parent];
                    if (std::find(list.begin(), list.end(), child) != list.end()) break;
                    list.push_back(child);
                }
            }
        }
        for (auto& [node, children] : interesting) {
            (void)node;
            std::sort(children.begin(), children.end());  // node ids are in file order
        }
        std::vector<std::size_t> included;  // tag indices, in file order
        // The tags before the root (NOPs) are never included.
        visit(0, 0, listed, interesting, included);
        included.push_back(tags_.size() - 1);  // FDT_END
        std::vector<byte_region> out;
        const std::size_t base = fdt_off_dt_struct(fdt_);
        for (std::size_t i = 0; i < included.size();) {
            const std::size_t first = included[i];
            std::size_t last = first;
            while (i + 1 < included.size() && included[i + 1] == last + 1) last = included[++i];
            ++i;
            std::size_t stop = static_cast<std::size_t>(tags_[last].next);
            if (last + 1 < tags_.size() && tags_[last + 1].type == FDT_END_NODE)
                stop = static_cast<std::size_t>(tags_[last + 1].next);
            const std::size_t start = base + static_cast<std::size_t>(tags_[first].offset);
            if (!out.empty() && out.back().offset + out.back().size == start)
                out.back().size += base + stop - start;
            else
                out.push_back({start, base + stop - start});
        }
        // U-Boot's region array: 20 + 7 per node, one kept back for the strings.
        if (out.size() >= 20 + 7 * include.size() - 1) throw error(errc::bad_image, subject, "too many hash regions for U-Boot");
        return out;
    }

private:
    struct tag_entry {
        int offset = 0;
        int next = 0;
        std::uint32_t type = 0;
        int node = -1;          // for begin and end tags
        bool excluded = false;  // a data property
    };
    struct node_entry {
        std::size_t begin = 0, end = 0;  // tag indices
        int parent = -1;
    };

    // Adds the included tags of `node` (and below) whose parent's want is
    // `parent_want`, as fdt_find_regions decides them.
    void visit(int node, int parent_want, const std::unordered_set<int>& listed,
               const std::unordered_map<int, std::vector<int>>& interesting, std::vector<std::size_t>& out) const {
        const auto& n = nodes_[static_cast<std::size_t>(node)];
        const int want = listed.count(node) ? 2 : (parent_want ? parent_want - 1 : 0);
        if (want) out.push_back(n.begin);
        if (want >= 2) {
            for (std::size_t k = n.begin + 1; k < n.end;) {
                const auto& t = tags_[k];
                if (t.type == FDT_BEGIN_NODE) {
                    visit(t.node, want, listed, interesting, out);
                    k = nodes_[static_cast<std::size_t>(t.node)].end + 1;
                    continue;
                }
                if (!t.excluded) out.push_back(k);
                ++k;
            }
        } else if (const auto it = interesting.find(node); it != interesting.end()) {
            for (const int child : it->second) visit(child, want, listed, interesting, out);
        }
        if (want) out.push_back(n.end);
    }

    void walk() {
        const auto fail = [&](const char* why) { failure_ = why; };
        std::vector<int> stack;  // open nodes
        std::vector<std::size_t> path_lengths;
        std::string path;
        int next = 0;
        bool expect_end = false;
        std::uint32_t tag = 0;
        do {
            const int offset = next;
            tag = fdt_next_tag(fdt_, offset, &next);
            if (next < 0) return fail("corrupt structure block");
            if (expect_end && tag != FDT_END) return fail("a second root node");
            tag_entry t;
            t.offset = offset;
            t.next = next;
            t.type = tag;
            switch (tag) {
                case FDT_PROP: {
                    int len = 0;
                    const struct fdt_property* prop = fdt_get_property_by_offset(fdt_, offset, &len);
                    const char* name = prop ? fdt_string(fdt_, static_cast<int>(fdt32_ld(&prop->nameoff))) : nullptr;
                    if (!name) return fail("property without a name");
                    t.excluded = excluded_from_signature(name);
                    break;
                }
                case FDT_NOP:
                    break;
                case FDT_BEGIN_NODE: {
                    // U-Boot's depth counts from 0 at the root and fails on reaching 32.
                    const int depth = static_cast<int>(stack.size());
                    if (depth >= max_region_depth) return fail("nodes nested too deeply for U-Boot");
                    int len = 0;
                    const char* name = fdt_get_name(fdt_, offset, &len);
                    if (!name) return fail("node without a name");
                    if (depth == 0 && len != 0) return fail("root node has a name");
                    if (path.size() + 2 + static_cast<std::size_t>(len) >= max_region_path)
                        return fail("node path longer than U-Boot's 200-byte limit");
                    path_lengths.push_back(path.size());
                    if (path.size() != 1) path += '/';
                    path.append(name, static_cast<std::size_t>(len));
                    t.node = static_cast<int>(nodes_.size());
                    nodes_.push_back({tags_.size(), 0, stack.empty() ? -1 : stack.back()});
                    by_path_[path].push_back(t.node);
                    stack.push_back(t.node);
                    break;
                }
                case FDT_END_NODE:
                    if (stack.empty()) return fail("unbalanced end of node");
                    t.node = stack.back();
                    nodes_[static_cast<std::size_t>(t.node)].end = tags_.size();
                    stack.pop_back();
                    path.resize(path_lengths.back());
                    path_lengths.pop_back();
                    if (stack.empty()) expect_end = true;
                    break;
                case FDT_END:
                    break;
                default:
                    return fail("unknown structure tag");
            }
            tags_.push_back(t);
        } while (tag != FDT_END);
        if (next != static_cast<int>(fdt_size_dt_struct(fdt_))) return fail("structure block size does not match its end");
        if (nodes_.empty()) return fail("no root node");
    }

    const void* fdt_;
    std::vector<tag_entry> tags_;
    std::vector<node_entry> nodes_;
    std::unordered_map<std::string, std::vector<int>> by_path_;
    std::string failure_;
};

// The regions for `include` in `fdt` (see signed_region_index), walking the
// structure once for this one list.
inline std::vector<byte_region> find_signed_regions(const void* fdt, const std::vector<std::string>& include,
                                                    const std::string& subject) {
    return signed_region_index(fdt).regions(include, subject);
}

// An image a configuration signature covers, for hashed_node_list().
struct hashed_image {
    std::string name;                 // image node name
    std::vector<std::string> hashes;  // its hash-* subnode names, in order
    bool cipher = false;              // it has a `cipher` node (listed after the hashes)
};

// The `hashed-nodes` of a configuration signature, as mkimage lists them
// (tools/image-host.c, fit_config_get_hash_list): "/", the configuration,
// then each image, in `images` order, followed by its hash-* subnodes and
// its cipher node (fit_config_add_hash).
inline std::vector<std::string> hashed_node_list(const std::string& configuration,
                                                 const std::vector<hashed_image>& images) {
    std::vector<std::string> nodes{"/", "/configurations/" + configuration};
    for (const auto& img : images) {
        nodes.push_back("/images/" + img.name);
        for (const auto& h : img.hashes) nodes.push_back("/images/" + img.name + "/" + h);
        if (img.cipher) nodes.push_back("/images/" + img.name + "/cipher");
    }
    return nodes;
}

}  // namespace detail
}  // namespace fitstream
