// SPDX-License-Identifier: MIT
#pragma once

// Two flattened devicetrees (FITs, key DTBs) compared with a libfdt walk:
// the same nodes in the same order and, per node, the same properties in the
// same order with the same values. Some properties may be told apart by
// value and place only (timestamps, signer-name, ...): both trees must have
// them, anywhere in the node. The first difference is described by path and
// property with both values in hex, truncated, for a test's message.

#include <libfdt.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace fitstream_test {

/// One node or property of a flattened tree, in the order the tree holds it.
struct fdt_item {
    std::string path;    ///< the node's path ("/images/kernel")
    std::string name;    ///< the property's name; empty for the node itself
    std::string value;   ///< the property's bytes
    int depth = 0;       ///< the node's depth below the walk's root
};

/// The nodes and properties of `blob` from the node `root` down, in tree
/// order; `error` says why when the blob or `root` is unusable (the result
/// is then empty).
inline std::vector<fdt_item> fdt_items(const std::string& blob, const std::string& root, std::string& error) {
    std::vector<fdt_item> items;
    const void* fdt = blob.data();
    if (blob.size() < sizeof(fdt_header) || fdt_check_header(fdt) != 0 || fdt_totalsize(fdt) > blob.size()) {
        error = "not a flattened devicetree";
        return items;
    }
    int node = fdt_path_offset(fdt, root.c_str());
    if (node < 0) {
        error = root + ": " + fdt_strerror(node);
        return items;
    }
    std::vector<std::string> paths{root == "/" ? "" : root};
    int depth = 0;
    do {
        paths.resize(static_cast<std::size_t>(depth) + 1);
        if (depth > 0) {
            const char* name = fdt_get_name(fdt, node, nullptr);
            paths[static_cast<std::size_t>(depth)] =
                paths[static_cast<std::size_t>(depth) - 1] + "/" + (name ? name : "?");
        }
        const std::string& own = paths[static_cast<std::size_t>(depth)];
        const std::string path = own.empty() ? "/" : own;
        items.push_back({path, {}, {}, depth});
        int prop = 0;
        fdt_for_each_property_offset(prop, fdt, node) {
            const char* name = nullptr;
            int len = 0;
            const void* value = fdt_getprop_by_offset(fdt, prop, &name, &len);
            if (!value || !name || len < 0) {
                error = path + ": " + fdt_strerror(len < 0 ? len : -FDT_ERR_BADSTRUCTURE);
                return {};
            }
            items.push_back({path, name, std::string(static_cast<const char*>(value), static_cast<std::size_t>(len)),
                             depth});
        }
        if (prop != -FDT_ERR_NOTFOUND) {
            error = path + ": " + fdt_strerror(prop);
            return {};
        }
        node = fdt_next_node(fdt, node, &depth);
    } while (node >= 0 && depth > 0);  // depth 0 again: past `root`'s subtree
    if (node < 0 && node != -FDT_ERR_NOTFOUND) error = fdt_strerror(node);
    return items;
}

/// `bytes` for a message: hex, two digits a byte, at most `limit` bytes,
/// then "... (N bytes)"; a printable NUL-terminated string also as text.
inline std::string fdt_show(const std::string& bytes, std::size_t limit = 48) {
    std::string out;
    for (std::size_t i = 0; i < bytes.size() && i < limit; ++i) {
        char two[4];
        std::snprintf(two, sizeof two, "%02x", static_cast<unsigned char>(bytes[i]));
        out += (i && i % 4 == 0 ? " " : "") + std::string(two);
    }
    if (bytes.size() > limit) out += " ...";
    out += " (" + std::to_string(bytes.size()) + " bytes)";
    bool text = !bytes.empty() && bytes.back() == '\0' && bytes.size() > 1;
    for (std::size_t i = 0; text && i + 1 < bytes.size(); ++i)
        text = (bytes[i] >= 0x20 && bytes[i] < 0x7f) || bytes[i] == '\0';
    if (text) {
        std::string shown = bytes.substr(0, bytes.size() - 1);
        for (auto& c : shown)
            if (c == '\0') c = '|';
        out += " \"" + shown.substr(0, limit) + (shown.size() > limit ? "..." : "") + "\"";
    }
    return out;
}

/// Which properties are compared by presence only: `node_path`, `name`.
using fdt_presence_only = std::function<bool(const std::string& node_path, const std::string& name)>;

/// A FIT's properties that legitimately differ between two tools or runs:
/// `timestamp` (root and signature nodes), `signer-name`, `signer-version`.
inline bool fit_tool_properties(const std::string& path, const std::string& name) {
    if (name == "signer-name" || name == "signer-version") return true;
    if (name != "timestamp") return false;
    const auto slash = path.rfind('/');
    return path == "/" || path.compare(slash + 1, 9, "signature") == 0;
}

/// The first difference between trees `a` and `b` (below `root`, labelled
/// `a_name` and `b_name` in the text), or "" when they are the same.
inline std::string fdt_first_difference(const std::string& a, const std::string& b,
                                        const fdt_presence_only& presence_only = fit_tool_properties,
                                        const std::string& root = "/", const std::string& a_name = "A",
                                        const std::string& b_name = "B") {
    std::string a_error, b_error;
    auto a_items = fdt_items(a, root, a_error);
    auto b_items = fdt_items(b, root, b_error);
    if (!a_error.empty()) return a_name + ": " + a_error;
    if (!b_error.empty()) return b_name + ": " + b_error;
    // Presence-only properties: the same names per node, then out of the
    // ordered comparison.
    const auto split = [&](std::vector<fdt_item>& items) {
        std::vector<std::string> names;
        std::vector<fdt_item> kept;
        for (auto& item : items) {
            if (!item.name.empty() && presence_only && presence_only(item.path, item.name))
                names.push_back(item.path + ":" + item.name);
            else
                kept.push_back(std::move(item));
        }
        items = std::move(kept);
        return names;
    };
    const auto a_only = split(a_items);
    const auto b_only = split(b_items);
    for (const auto& n : a_only)
        if (std::find(b_only.begin(), b_only.end(), n) == b_only.end()) return n + ": only in " + a_name;
    for (const auto& n : b_only)
        if (std::find(a_only.begin(), a_only.end(), n) == a_only.end()) return n + ": only in " + b_name;

    const auto describe_item = [](const fdt_item& item) {
        return item.name.empty() ? "node " + item.path : "property " + item.path + ":" + item.name;
    };
    const std::size_t n = std::min(a_items.size(), b_items.size());
    for (std::size_t i = 0; i < n; ++i) {
        const auto& x = a_items[i];
        const auto& y = b_items[i];
        if (x.path != y.path || x.name != y.name)
            return "item " + std::to_string(i) + ": " + a_name + " has " + describe_item(x) + ", " + b_name + " has " +
                   describe_item(y);
        if (x.value != y.value)
            return x.path + ":" + x.name + " differs\n  " + a_name + ": " + fdt_show(x.value) + "\n  " + b_name +
                   ": " + fdt_show(y.value);
    }
    if (a_items.size() != b_items.size()) {
        const bool a_longer = a_items.size() > b_items.size();
        return "only in " + (a_longer ? a_name : b_name) + ": " + describe_item((a_longer ? a_items : b_items)[n]);
    }
    return {};
}

}  // namespace fitstream_test
