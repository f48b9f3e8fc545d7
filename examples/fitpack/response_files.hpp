// SPDX-License-Identifier: MIT
#pragma once

// `@FILE` response files, read as scripts/make_fit.py's argparse reads them
// (fromfile_prefix_chars='@'): each line of the file is one argument,
// verbatim — spaces, quotes and backslashes are part of it, so a DTB path
// with a space works — and an argument that is itself `@FILE` is expanded
// in turn. A line ends at LF, CR LF or CR (Python's universal newlines);
// the last line needs no end. An empty line is an empty argument, as in
// argparse: as a DTB it is skipped like any name not ending in .dtb (as
// make_fit.py skips it), after an option it is that option's value.
// Kbuild passes `@arch/arm64/boot/dts/dtbs-list`, one path per line.
//
// Unlike argparse, the expansion is bounded and iterative (no recursion,
// whatever the nesting) so that a hostile or mistaken file fails at once
// with a message instead of crashing or running for minutes: at most
// max_depth files deep, max_files response files read in all (a file named
// twice is read twice and its arguments repeat), max_bytes of response-file
// text in all, max_arguments arguments, max_argument_size bytes in one
// argument (the kernel's limit for one command-line argument). A response
// file must be a regular file (a pipe or device is refused, as DTB inputs
// are; `--files-from -` reads standard input), a file that cannot be read
// is an error rather than a literal argument (a build must not quietly
// pack nothing), and so is one that includes itself.
//
// `--files-from` lists: one path per line, empty lines left out.

#include <fitstream/detail/io/file.hpp>
#include <fitstream/error.hpp>
#include <fitstream/kbuild/list_file.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace fitpack {

/// The bounds of one response-file expansion (see the file comment).
struct response_file_limits {
    std::size_t max_depth = 64;                  ///< response files open inside each other
    std::size_t max_files = 10000;               ///< response files read in all
    std::uint64_t max_bytes = 64u << 20;         ///< bytes of response-file text read in all
    std::size_t max_arguments = 1000000;         ///< arguments after expansion
    std::size_t max_argument_size = 128u << 10;  ///< bytes in one argument (Linux's MAX_ARG_STRLEN)
};

namespace response_files {

/// One response file being expanded: its text and where the next line starts.
struct frame {
    std::string name;
    std::string text;
    std::size_t at = 0;
    std::size_t line = 0;
    dev_t device = 0;
    ino_t inode = 0;
};

[[noreturn]] inline void fail(const std::string& subject, const std::string& reason) {
    throw fitstream::error(fitstream::errc::invalid_input, subject, reason);
}

/// The next line of `f` (its end of line taken off), or false at the end.
inline bool next_line(frame& f, std::string& line) {
    if (f.at >= f.text.size()) return false;
    const std::size_t end = f.text.find_first_of("\r\n", f.at);
    if (end == std::string::npos) {
        line.assign(f.text, f.at, std::string::npos);
        f.at = f.text.size();
    } else {
        line.assign(f.text, f.at, end - f.at);
        f.at = end + (f.text[end] == '\r' && end + 1 < f.text.size() && f.text[end + 1] == '\n' ? 2 : 1);
    }
    ++f.line;
    return true;
}

/// Expands response files on an explicit stack; see expand_response_files().
class expander {
public:
    expander(const response_file_limits& limits, std::vector<std::string>* read_files)
        : limits_(limits), read_files_(read_files) {}

    void add(std::string arg, const std::string& from) {
        if (arg.size() < 2 || arg[0] != '@') {
            if (out_.size() >= limits_.max_arguments)
                fail(from, "response files give more than " + std::to_string(limits_.max_arguments) +
                               " arguments (fitpack's limit)");
            out_.push_back(std::move(arg));
            return;
        }
        open(arg.substr(1));
        while (!stack_.empty()) {
            frame& f = stack_.back();
            std::string line;
            if (!next_line(f, line)) {
                stack_.pop_back();
                continue;
            }
            if (line.size() > limits_.max_argument_size)
                fail(f.name, "line " + std::to_string(f.line) + " is longer than " +
                                 std::to_string(limits_.max_argument_size) +
                                 " bytes, the most one argument may hold");
            if (line.size() >= 2 && line[0] == '@') {
                open(line.substr(1));  // `f` is not used past here: the stack may move
            } else {
                add(std::move(line), f.name);
            }
        }
    }

    std::vector<std::string> take() { return std::move(out_); }

private:
    void open(const std::string& name) {
        if (stack_.size() >= limits_.max_depth)
            fail(name, "response files nested more than " + std::to_string(limits_.max_depth) +
                           " deep (fitpack's limit)");
        if (files_ >= limits_.max_files)
            fail(name, "more than " + std::to_string(limits_.max_files) +
                           " response files read in all (fitpack's limit)");
        ++files_;
        // A regular file only: a directory, a pipe or a device is refused
        // before a byte is read (open() of a FIFO does not wait for a writer).
        const fitstream::detail::unique_fd fd = fitstream::detail::open_for_reading(name);
        struct stat st {};
        if (::fstat(fd.get(), &st) != 0) fitstream::detail::throw_os_error(errno, name, "cannot stat");
        for (const auto& open_file : stack_)
            if (open_file.device == st.st_dev && open_file.inode == st.st_ino)
                fail(name, "response file includes itself");
        const std::uint64_t left = limits_.max_bytes - bytes_;
        if (static_cast<std::uint64_t>(st.st_size) > left)
            fail(name, "response files hold more than " + std::to_string(limits_.max_bytes) +
                           " bytes in all (fitpack's limit)");
        frame f;
        f.name = name;
        f.text = fitstream::detail::read_bounded(fd.get(), name, left, "response file");
        f.device = st.st_dev;
        f.inode = st.st_ino;
        bytes_ += f.text.size();
        if (read_files_) read_files_->push_back(name);
        stack_.push_back(std::move(f));
    }

    response_file_limits limits_;
    std::vector<std::string>* read_files_;
    std::vector<frame> stack_;
    std::vector<std::string> out_;
    std::size_t files_ = 0;
    std::uint64_t bytes_ = 0;
};

}  // namespace response_files

/// Returns `args` with every `@FILE` replaced by its lines, nested (see the
/// file comment). `read_files`, when given, receives each response file
/// read (for dependency files).
/// @throws fitstream::error naming the response file when one cannot be
///         read, is not a regular file, includes itself, or passes a limit.
inline std::vector<std::string> expand_response_files(const std::vector<std::string>& args,
                                                      std::vector<std::string>* read_files = nullptr,
                                                      const response_file_limits& limits = {}) {
    response_files::expander expand(limits, read_files);
    for (const auto& arg : args) expand.add(arg, "command line");
    return expand.take();
}

/// Appends the paths of a `--files-from` list to `out`: one path per line
/// (CR LF too), empty lines left out; "-" reads standard input.
/// @throws fitstream::error naming the list when it cannot be read.
/// A --files-from list read one line at a time: a list of a million DTB
/// paths is tens of MiB, and each path goes into the plan as it is read.
/// Errors are read_file_list()'s: a list that cannot be opened or is a
/// directory, and one past fitstream::max_list_file_size ("not a file list").
class file_list_reader {
public:
    explicit file_list_reader(const std::string& list) : name_(list) {
        if (list == "-") {
            fd_ = STDIN_FILENO;
        } else {
            fitstream::detail::check_path_name(list);
            int fd;
            do {
                fd = ::open(list.c_str(), O_RDONLY | O_CLOEXEC);
            } while (fd < 0 && errno == EINTR);
            if (fd < 0) fitstream::detail::throw_os_error(errno, list, "cannot read file list");
            owned_.reset(fd);
            fd_ = fd;
        }
        struct stat st {};
        if (::fstat(fd_, &st) != 0) fitstream::detail::throw_os_error(errno, list, "cannot read file list");
        if (S_ISDIR(st.st_mode)) fitstream::detail::throw_is_a_directory(list);
        if (S_ISREG(st.st_mode) && static_cast<std::uint64_t>(st.st_size) > fitstream::max_list_file_size)
            throw too_large();
    }

    /// The next non-empty line (a trailing CR removed); false at the end.
    bool next(std::string& line) {
        for (;;) {
            const std::size_t end = buffer_.find('\n', at_);
            if (end == std::string::npos && !eof_) {
                buffer_.erase(0, at_);
                at_ = 0;
                const std::size_t used = buffer_.size();
                buffer_.resize(used + step);
                const std::size_t n = fitstream::detail::read_up_to(fd_, buffer_.data() + used, step, name_);
                buffer_.resize(used + n);
                read_ += n;
                if (read_ > fitstream::max_list_file_size) throw too_large();
                eof_ = n < step;
                continue;
            }
            if (at_ >= buffer_.size()) return false;
            const std::size_t stop = end == std::string::npos ? buffer_.size() : end;
            line.assign(buffer_, at_, stop - at_);
            at_ = stop + 1;
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (!line.empty()) return true;
        }
    }

private:
    static constexpr std::size_t step = 64 * 1024;
    fitstream::error too_large() const {
        return fitstream::error(fitstream::errc::invalid_input, name_,
                                "larger than " + std::to_string(fitstream::max_list_file_size) +
                                    " bytes: not a file list");
    }
    std::string name_;
    fitstream::detail::unique_fd owned_;
    int fd_ = -1;
    std::string buffer_;
    std::size_t at_ = 0;
    std::uint64_t read_ = 0;
    bool eof_ = false;
};

inline void read_file_list(const std::string& list, std::vector<std::string>& out) {
    file_list_reader reader(list);
    for (std::string line; reader.next(line);) out.push_back(std::move(line));
}

}  // namespace fitpack
