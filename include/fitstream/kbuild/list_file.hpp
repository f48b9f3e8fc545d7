// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// Reading the lists a build hands a FIT tool: a response file
/// (`@arch/arm64/boot/dts/dtbs-list`, as Kbuild passes it to make_fit.py)
/// or a list of paths. They are read whole but bounded, so that
/// `@/dev/zero` fails instead of filling memory.

#include <fitstream/detail/io/file.hpp>

#include <cstdint>
#include <string>

namespace fitstream {

/// The largest list read_list_file() reads: a list of 100,000 DTB paths is
/// a few MiB.
inline constexpr std::uint64_t max_list_file_size = 256u << 20;

/// The whole text of `path`. A pipe (`<(...)`, /dev/stdin) is read too.
/// @param what the file's role in messages ("response file", "file list")
/// @throws fitstream::error (subject `path`): the OS error as
///         "cannot read WHAT: <strerror>", EISDIR "Is a directory" for a
///         directory (the same words as for every file fitstream reads), or
///         errc::invalid_input "larger than N bytes: not a WHAT".
inline std::string read_list_file(const std::string& path, const std::string& what,
                                  std::uint64_t limit = max_list_file_size) {
    return detail::read_file_bounded(path, limit, what, detail::stream_inputs::accepted);
}

/// The same, from the open descriptor `fd` (standard input), named `name`
/// in messages; `fd` is not closed.
inline std::string read_list_file(int fd, const std::string& name, const std::string& what,
                                  std::uint64_t limit = max_list_file_size) {
    return detail::read_bounded(fd, name, limit, what);
}

}  // namespace fitstream
