// SPDX-License-Identifier: MIT
#pragma once

// Node paths as the reader's problems name them: a walk over every node
// with its path, and node names cut short so that a hostile name repeated
// in many messages stays cheap.

#include <fitstream/detail/lib/libfdt.hpp>

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace fitstream {
namespace detail {

// A node name as it appears in problem subjects: names past 256 bytes are
// cut, so that a long name repeated in many subjects stays cheap.
inline std::string shown_name(const std::string& name) {
    if (name.size() <= 256) return name;
    return name.substr(0, 200) + "...(" + std::to_string(name.size()) + " bytes)";
}

// Walks the nodes of `fdt` down to `max_depth` levels below the root,
// calling `visit(path, name)`; returns true when deeper nodes were skipped.
// The path is built once per node from its parent's, so the walk is linear
// in the size of the tree however deep it goes.
inline bool for_each_node(const void* fdt, int max_depth,
                          const std::function<void(const std::string&, const std::string&)>& visit) {
    std::string path;               // of the node being visited
    std::vector<std::size_t> ends;  // ends[d]: path length of the current node at depth d
    bool skipped = false;
    int depth = 0;
    for (int node = 0; node >= 0; node = fdt_next_node(fdt, node, &depth)) {
        if (depth < 0) break;
        if (depth > max_depth) {
            skipped = true;
            continue;
        }
        int len = 0;
        const char* name = fdt_get_name(fdt, node, &len);
        const std::string own = name ? std::string(name, static_cast<std::size_t>(len)) : std::string();
        if (depth == 0) {
            ends.assign(1, 0);
            visit("/", own);
            continue;
        }
        // The parent is the last node visited at depth - 1.
        path.resize(ends[static_cast<std::size_t>(depth - 1)]);
        path += '/';
        path += shown_name(own);
        ends.resize(static_cast<std::size_t>(depth));
        ends.push_back(path.size());
        visit(path, own);
    }
    return skipped;
}

}  // namespace detail
}  // namespace fitstream
