// SPDX-License-Identifier: MIT
#pragma once

// Names of the configurations made from DTB files.

#include <fitstream/detail/text.hpp>
#include <fitstream/tree.hpp>

#include <cstddef>
#include <string>

namespace fitstream {
namespace detail {

// A node name from a file name: characters FIT node names do not allow
// (and '@') become '_'.
inline std::string sanitise_node_name(const std::string& text) {
    std::string out = text;
    for (char& c : out)
        if (!is_node_name_char(c)) c = '_';
    return out;
}

// The name configuration `index` (0-based) made from DTB `source` would
// have, before any clash: `conf-N`, or with `by_basename` `conf-<file
// name>`, .dtb kept, as Yocto names them (openembedded-core's
// oe/fitimage.py: FIT_CONF_PREFIX "conf-" + the DTB's os.path.basename(),
// also for vendor subdirectories, so `qcom/board.dtb` gives
// `conf-board.dtb`). Characters a node name cannot hold become '_'.
inline std::string configuration_stem(bool by_basename, std::size_t index, const std::string& source) {
    if (!by_basename) return "conf-" + std::to_string(index + 1);
    return "conf-" + sanitise_node_name(base_name(source));
}

}  // namespace detail
}  // namespace fitstream
