// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// The front end for image tree sources (`.its`, as `mkimage -f` takes
/// them): the source is compiled by dtc, the reference parser, but no
/// `/incbin/` payload is read. Each `/incbin/` is rewritten, before dtc
/// sees it, into a marker dtc compiles without opening the file; the
/// markers are then taken out of the blob again and described as file
/// ranges, which the writer streams in chunks like every other input.
///
/// @code
/// auto its = fitstream::its::compile_its("image.its");
/// for (const auto& p : its.payloads) std::cout << p.node << "/" << p.property << "\n";
/// @endcode

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fitstream {
namespace its {

/// One `/incbin/("path"[, offset, length])`: a range of a file.
struct incbin {
    std::string path;         ///< the file, resolved as dtc resolves it (openable as is)
    std::string written;      ///< the path as the source wrote it, for messages
    std::uint64_t offset = 0;
    std::uint64_t length = 0;  ///< bytes from `offset`: the rest of the file when not given
    std::string origin;       ///< where the directive is: "dir/image.its:12"
};

/// A piece of a property value: literal bytes from the source, or an /incbin/.
struct value_piece {
    std::vector<char> bytes;     ///< literal bytes (empty when `file` is set)
    std::optional<incbin> file;  ///< a file range
};

/// A property whose value holds at least one /incbin/. Its value in
/// compiled_source::blob is empty (the property keeps its place); the
/// pieces say what it is, in order.
struct payload_property {
    std::string node;      ///< the node's path ("/images/kernel")
    std::string property;  ///< the property's name ("data")
    std::vector<value_piece> pieces;
};

/// An image tree source compiled by dtc, its /incbin/ payloads unread.
struct compiled_source {
    std::string path;                        ///< the .its as given
    std::vector<char> blob;                  ///< dtc's output (see payload_property)
    std::vector<payload_property> payloads;  ///< in the blob's node order
};

/// How compile_its() finds files and dtc.
struct compile_options {
    /// Searched, in order, after the directory of the file holding an
    /// `/include/` or `/incbin/` (dtc's `-i`; mkimage's `-D "-i DIR"`).
    std::vector<std::string> include_dirs;
    /// Searched last (fitpack: the current directory). dtc itself does not.
    bool search_current_directory = true;
    /// The dtc program, found on PATH unless it holds a slash.
    std::string dtc = "dtc";
};

}  // namespace its
}  // namespace fitstream
