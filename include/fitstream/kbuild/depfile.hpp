// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// A Make/Ninja dependency file for a FIT, so that a build rebuilds it when
/// any file it was made from changes (see kernel_fit_report::files_read).

#include <fitstream/error.hpp>

#include <string>
#include <vector>

namespace fitstream {

/// The text of a depfile: `target: input...`, one input per
/// backslash-continued line, paths escaped as Make reads them (space and
/// tab as `\ `, `#` as `\#`, `$` as `$$`).
/// @throws fitstream::error (errc::invalid_argument, subject the path) for
///         a path holding a newline, which a depfile cannot express.
inline std::string depfile_text(const std::string& target, const std::vector<std::string>& inputs) {
    const auto escape = [](const std::string& path) {
        std::string out;
        for (const char c : path) {
            if (c == '\n' || c == '\r')
                throw error(errc::invalid_argument, path, "a path with a newline cannot go in a depfile");
            if (c == ' ' || c == '\t' || c == '#') out += '\\';
            if (c == '$') out += '$';
            out += c;
        }
        return out;
    };
    std::string text = escape(target) + ":";
    for (const auto& in : inputs) text += " \\\n  " + escape(in);
    return text + "\n";
}

}  // namespace fitstream
