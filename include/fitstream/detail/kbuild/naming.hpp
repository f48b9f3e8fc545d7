// SPDX-License-Identifier: MIT
#pragma once

// Names of the configurations made from DTB files, and which configuration
// `/configurations/default` names.

#include <fitstream/detail/text.hpp>
#include <fitstream/error.hpp>
#include <fitstream/tree.hpp>

#include <algorithm>
#include <cstddef>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

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

// Names the configurations marked `automatic` (the others were named by
// the caller, and must be unique); `source(i)` is the DTB configuration
// i was made from. A name already taken gets `-2`, `-3`, ...
template <class Source>
void name_configurations(std::vector<configuration>& confs, const std::vector<bool>& automatic, bool by_basename,
                         const Source& source) {
    std::set<std::string> used;
    for (std::size_t i = 0; i < confs.size(); ++i)
        if (!automatic[i] && !used.insert(confs[i].name).second)
            throw error(errc::invalid_argument, "/configurations/" + confs[i].name, "configuration named twice");
    // Per stem, the suffix to try next: names are only ever added, so
    // those below it stay taken, and many DTBs of the same file name are
    // named in linear time, not by rescanning from "-2" each time.
    std::unordered_map<std::string, int> next_suffix;
    for (std::size_t i = 0; i < confs.size(); ++i) {
        if (!automatic[i]) continue;
        const std::string stem = configuration_stem(by_basename, i, source(i));
        std::string name = stem;
        if (used.count(name)) {
            int& n = next_suffix.try_emplace(stem, 2).first->second;
            do name = stem + "-" + std::to_string(n++);
            while (used.count(name));
        }
        used.insert(name);
        confs[i].name = std::move(name);
    }
}

// The configuration `want` names: by name, by the DTB file it was made
// from (as given, then by base name), then by compatible string; empty
// `want` is the first configuration.
template <class Source>
std::string resolve_default(const std::vector<configuration>& confs, const std::string& want, const Source& source) {
    if (want.empty()) return confs.empty() ? std::string() : confs.front().name;
    for (const auto& c : confs)
        if (c.name == want) return c.name;
    for (std::size_t i = 0; i < confs.size(); ++i)
        if (source(i) == want) return confs[i].name;
    for (std::size_t i = 0; i < confs.size(); ++i)
        if (base_name(source(i)) == want) return confs[i].name;
    for (const auto& c : confs)
        if (std::find(c.compatible.begin(), c.compatible.end(), want) != c.compatible.end()) return c.name;
    throw error(errc::invalid_argument, "default configuration",
                "'" + want + "' is neither a configuration, a DTB it was made from, nor a compatible string of one");
}

}  // namespace detail
}  // namespace fitstream
