// SPDX-License-Identifier: MIT
#pragma once

// Node paths as the reader's problems name them: a walk over every node
// with its path, and node names cut short so that a hostile name repeated
// in many messages stays cheap.

#include <fitstream/detail/lib/libfdt.hpp>

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fitstream {
namespace detail {

// `text` from a file as it may be shown on a terminal: control characters
// (C0, DEL and the C1 range as UTF-8 encodes it) written as \xNN, so that a
// name cannot move the cursor, recolour the terminal or start a line of
// its own, and text past `max` bytes cut, saying how long it was.
inline std::string printable(std::string_view text, std::size_t max = 256) {
    static constexpr char digits[] = "0123456789abcdef";
    const bool cut = text.size() > max;
    const std::string_view shown = cut ? text.substr(0, max * 3 / 4) : text;
    std::string out;
    out.reserve(shown.size() + 16);
    for (std::size_t i = 0; i < shown.size(); ++i) {
        const auto c = static_cast<unsigned char>(shown[i]);
        const bool c1 = c == 0xc2 && i + 1 < shown.size() && static_cast<unsigned char>(shown[i + 1]) >= 0x80 &&
                        static_cast<unsigned char>(shown[i + 1]) <= 0x9f;
        if (c < 0x20 || c == 0x7f || c1) {
            const auto v = c1 ? static_cast<unsigned char>(shown[++i]) : c;
            out += "\\x";
            out += digits[v >> 4];
            out += digits[v & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
    if (cut) out += "...(" + std::to_string(text.size()) + " bytes)";
    return out;
}

// A node name as it appears in problem subjects: control characters
// escaped and names past 256 bytes cut, so that a long name repeated in
// many subjects stays cheap and no name can forge a line of output.
inline std::string shown_name(const std::string& name) { return printable(name, 256); }

// "4,990": a count as messages print it.
inline std::string with_commas(std::size_t n) {
    std::string digits = std::to_string(n), out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

// A list inside one message ("a; b; c; ... and 4,990 more"): the first
// `max` items are kept, the rest only counted, so a file with thousands of
// failing nodes still makes a line a person can read.
class capped_list {
public:
    explicit capped_list(std::string separator = "; ", std::size_t max = 10)
        : separator_(std::move(separator)), max_(max) {}
    void add(const std::string& item) {
        if (count_++ < max_) text_ += (text_.empty() ? std::string() : separator_) + item;
    }
    bool empty() const noexcept { return count_ == 0; }
    std::string str() const {
        if (count_ <= max_) return text_;
        return text_ + separator_ + "... and " + with_commas(count_ - max_) + " more";
    }

private:
    std::string separator_;
    std::size_t max_;
    std::size_t count_ = 0;
    std::string text_;
};

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
