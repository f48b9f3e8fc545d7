// SPDX-License-Identifier: MIT
#pragma once

// Kbuild's `.<file>.cmd` files, read as Linux's scripts/make_fit.py -D
// reads them: the command that made a DTB tells whether it is a composite
// of a base DTB and overlays (fdtoverlay), and of which files.

#include <fitstream/detail/io/file.hpp>
#include <fitstream/error.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace fitstream {
namespace detail {

// Python's str.split() separators: make_fit.py splits the .cmd text so.
inline bool python_space(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' || (c >= '\x1c' && c <= '\x1f');
}

inline std::vector<std::string> python_split(const std::string& text) {
    std::vector<std::string> words;
    std::string word;
    for (const char c : text) {
        if (python_space(c)) {
            if (!word.empty()) words.push_back(std::move(word));
            word.clear();
        } else {
            word += c;
        }
    }
    if (!word.empty()) words.push_back(std::move(word));
    return words;
}

// The command file beside `dtb`, named as make_fit.py names it:
// os.path.join(dirname, f'.{basename}.cmd').
inline std::string kbuild_cmd_file(const std::string& dtb) {
    const auto slash = dtb.rfind('/');
    if (slash == std::string::npos) return "." + dtb + ".cmd";
    return dtb.substr(0, slash + 1) + "." + dtb.substr(slash + 1) + ".cmd";
}

// A command file is one command line; anything this large is not one.
inline constexpr std::uint64_t max_cmd_file_size = 16u << 20;

// The files a composite DTB is made of, from its command file's `text`:
// when the text mentions `scripts/dtc/fdtoverlay`, the words after `-i`
// in the command (up to the first `;`, which starts Kbuild's schema check
// when CHECK_DTBS is on) are the base then the overlays; otherwise the
// DTB is itself.
inline std::vector<std::string> decompose_dtb(const std::string& dtb, const std::string& cmd_file,
                                              const std::string& text) {
    if (text.find("scripts/dtc/fdtoverlay") == std::string::npos) return {dtb};
    const auto words = python_split(text.substr(0, text.find(';')));
    const auto i = std::find(words.begin(), words.end(), "-i");
    if (i == words.end())
        throw error(errc::invalid_input, cmd_file,
                    "runs fdtoverlay but has no '-i': cannot tell which files " + dtb + " is made of");
    if (i + 1 == words.end())
        throw error(errc::invalid_input, cmd_file, "runs fdtoverlay but names no file after '-i' (for " + dtb + ")");
    return {i + 1, words.end()};
}

// Reads `cmd_file` for decompose_dtb(); a failure names the DTB that
// needed it, since the user never named the command file. The reason is
// said once: "CMD: cannot read the Kbuild command file that
// --decompose-dtbs needs for DTB: No such file or directory".
inline std::string read_cmd_file(const std::string& cmd_file, const std::string& dtb) {
    try {
        return read_file_bounded(cmd_file, max_cmd_file_size, "Kbuild command file");
    } catch (const error& e) {
        const std::string what = "cannot read the Kbuild command file that --decompose-dtbs needs for " + dtb;
        // An OS error's own text (strerror) is added by error() again; a
        // fitstream error's reason says what no code says ("larger than ...").
        if (e.code().category() == fitstream_category()) throw error(e.code(), cmd_file, what + ": " + e.reason());
        throw error(e.code(), cmd_file, what);
    }
}

}  // namespace detail
}  // namespace fitstream
