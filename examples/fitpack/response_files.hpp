// SPDX-License-Identifier: MIT
#pragma once

// `@FILE` response files, read as GNU ld and ar read them (libiberty's
// expandargv): the file's contents are split at whitespace into arguments,
// with '...' and "..." quoting and backslash escapes, and an argument
// that is itself `@FILE` is expanded in turn. Kbuild passes
// `@arch/arm64/boot/dts/dtbs-list`, one path per line, which this reads as
// make_fit.py's argparse does. Unlike libiberty, a file that cannot be read
// is an error, not a literal argument: a build must not silently pack
// nothing. Also `--files-from` lists: one path per line.

#include <fitstream/error.hpp>
#include <fitstream/kbuild/list_file.hpp>

#include <unistd.h>

#include <string>
#include <vector>

#include <climits>
#include <cstdlib>

namespace fitpack {

/// Splits response-file text into arguments (see the file comment).
inline std::vector<std::string> split_response_text(const std::string& text, const std::string& file) {
    std::vector<std::string> args;
    std::string current;
    bool in_arg = false;
    char quote = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '\\' && quote != '\'') {
            if (i + 1 < text.size()) {
                current += text[++i];
                in_arg = true;
            }
            continue;
        }
        if (quote) {
            if (c == quote) {
                quote = 0;
            } else {
                current += c;
            }
            continue;
        }
        if (c == '\'' || c == '"') {
            quote = c;
            in_arg = true;
        } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            if (in_arg) args.push_back(std::move(current));
            current.clear();
            in_arg = false;
        } else {
            current += c;
            in_arg = true;
        }
    }
    if (quote) throw fitstream::error(fitstream::errc::invalid_input, file, "unterminated quote in response file");
    if (in_arg) args.push_back(std::move(current));
    return args;
}

namespace response_files {

inline void expand_into(const std::vector<std::string>& args, std::vector<std::string>& out,
                        std::vector<std::string>& open_files, std::vector<std::string>* read_files) {
    for (const auto& arg : args) {
        if (arg.size() < 2 || arg[0] != '@') {
            out.push_back(arg);
            continue;
        }
        const std::string file = arg.substr(1);
        char resolved[PATH_MAX];
        const std::string key = ::realpath(file.c_str(), resolved) ? std::string(resolved) : file;
        for (const auto& f : open_files)
            if (f == key) throw fitstream::error(fitstream::errc::invalid_input, file, "response file includes itself");
        const std::string text = fitstream::read_list_file(file, "response file");
        if (read_files) read_files->push_back(file);
        open_files.push_back(key);
        expand_into(split_response_text(text, file), out, open_files, read_files);
        open_files.pop_back();
    }
}

}  // namespace response_files

/// Returns `args` with every `@FILE` replaced by its arguments, nested.
/// `read_files`, when given, receives each response file read (for
/// dependency files).
/// @throws fitstream::error naming the file when one cannot be read, has
///         an unterminated quote, or includes itself.
inline std::vector<std::string> expand_response_files(const std::vector<std::string>& args,
                                                      std::vector<std::string>* read_files = nullptr) {
    std::vector<std::string> out;
    std::vector<std::string> open_files;
    response_files::expand_into(args, out, open_files, read_files);
    return out;
}

}  // namespace fitpack

namespace fitpack {

/// Appends the paths of a `--files-from` list to `out`: one path per line
/// (CR LF too), empty lines left out; "-" reads standard input.
/// @throws fitstream::error naming the list when it cannot be read.
inline void read_file_list(const std::string& list, std::vector<std::string>& out) {
    const std::string text = list == "-" ? fitstream::read_list_file(STDIN_FILENO, "-", "file list")
                                         : fitstream::read_list_file(list, "file list");
    std::size_t at = 0;
    while (at < text.size()) {
        std::size_t end = text.find('\n', at);
        if (end == std::string::npos) end = text.size();
        std::string line = text.substr(at, end - at);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (!line.empty()) out.push_back(std::move(line));
        at = end + 1;
    }
}

}  // namespace fitpack
