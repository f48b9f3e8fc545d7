// SPDX-License-Identifier: MIT
#pragma once

// The first step of compile_its(): each source file (the .its and every
// file it /include/s, recursively) is copied into a temporary directory
// with its directives rewritten, so that dtc compiles it without opening a
// payload. mkimage hands the .its to dtc as it is, and dtc reads every
// /incbin/ file whole into memory; a FIT's payloads may be gigabytes, and
// the writer streams them in chunks instead.
//
//   /incbin/("f"[, OFF, LEN])  ->  [MAGIC], /bits/ 32 <N>, "f", /bits/ 64 <OFF LEN>
//   /include/ "f"              ->  /include/ "<the rewritten copy of f>"
//
// The marker is a valid dtc property value wherever /incbin/ is one, and
// dtc evaluates OFF and LEN (literals, character literals, expressions)
// itself; its_decode_markers() finds the markers in the compiled values.
// Newlines are kept, so dtc's line numbers still point into the user's
// files.
//
// The lexer knows only what it takes to find the two directives where dtc
// would see them: comments, string and character literals and path
// references are skipped as dtc-lexer.l's patterns match them (a pattern
// that does not match, such as an unterminated string, leaves a single
// character, as in dtc).

#include <fitstream/detail/io/file.hpp>
#include <fitstream/error.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fitstream {
namespace detail {

// 16 random bytes that open every marker. A property value that holds them
// by chance would be taken for a marker, and fail its checks loudly.
inline constexpr unsigned char its_marker_magic[16] = {0x9e, 0x70, 0x8d, 0x5f, 0xa7, 0xea, 0xa3, 0xe4,
                                                       0xcd, 0x4a, 0x0f, 0x2d, 0x11, 0xa5, 0x9e, 0xfd};

// The largest source file read: a .its or .dtsi is text, a few KiB.
inline constexpr std::uint64_t its_max_source_size = 64u << 20;

// How deep /include/ may nest (dtc itself has no limit but the stack).
inline constexpr int its_max_include_depth = 64;

// A private directory under $TMPDIR (or /tmp), removed with the files in
// it when it goes out of scope. Only flat files are made in it.
class its_temp_dir {
public:
    its_temp_dir() {
        const char* env = std::getenv("TMPDIR");
        std::string pattern = std::string(env && *env ? env : "/tmp") + "/fitstream-its-XXXXXX";
        std::vector<char> buf(pattern.begin(), pattern.end());
        buf.push_back('\0');
        if (!::mkdtemp(buf.data())) throw_os_error(errno, pattern, "cannot make a temporary directory");
        path_ = buf.data();
    }
    its_temp_dir(const its_temp_dir&) = delete;
    its_temp_dir& operator=(const its_temp_dir&) = delete;
    ~its_temp_dir() {
        if (DIR* d = ::opendir(path_.c_str())) {
            std::vector<std::string> names;
            while (const dirent* e = ::readdir(d)) {
                const std::string_view name = e->d_name;
                if (name != "." && name != "..") names.emplace_back(name);
            }
            ::closedir(d);
            for (const auto& name : names) ::unlink((path_ + "/" + name).c_str());
        }
        ::rmdir(path_.c_str());
    }

    const std::string& path() const noexcept { return path_; }
    std::string operator/(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

// dtc's get_dirname(): the part before the last '/', or none (then names
// are opened as they are, relative to the current directory).
inline std::optional<std::string> its_dir_of(const std::string& path) {
    const auto slash = path.rfind('/');
    if (slash == std::string::npos) return std::nullopt;
    return path.substr(0, slash);
}

// dtc's join_path().
inline std::string its_join_path(const std::string& dir, const std::string& name) {
    if (!dir.empty() && dir.back() == '/') return dir + name;
    return dir + "/" + name;
}

// Where a name in an /include/ or /incbin/ is found.
struct its_resolved {
    std::string path;  // the first candidate that exists (empty when none)
    int error = 0;     // 0, or why none was found (ENOENT unless another errno says more)
};

// dtc's fopen_any_on_path(): an absolute name as it is; otherwise the
// directory of the file holding the directive, then each include
// directory in order; then, unlike dtc, the current directory when asked
// (fitpack's fallback). The first that exists wins: a directory found
// first is not skipped (dtc's fopen() succeeds on one too), it fails later.
inline its_resolved its_resolve(const std::string& name, const std::optional<std::string>& dir,
                                const std::vector<std::string>& include_dirs, bool search_current_directory) {
    std::vector<std::string> candidates;
    if (!name.empty() && name[0] == '/') {
        candidates.push_back(name);
    } else {
        candidates.push_back(dir ? its_join_path(*dir, name) : name);
        for (const auto& d : include_dirs) candidates.push_back(its_join_path(d, name));
        if (search_current_directory) candidates.push_back(name);
    }
    its_resolved out;
    out.error = ENOENT;
    for (const auto& c : candidates) {
        struct stat st {};
        if (::stat(c.c_str(), &st) == 0) {
            out.path = c;
            out.error = 0;
            return out;
        }
        if (errno != ENOENT && out.error == ENOENT) out.error = errno;
    }
    return out;
}

// dtc's data_copy_escape_string(): the bytes a string literal's text
// (without its quotes) stands for. \x with no hex digit, which dtc refuses,
// is kept as 'x'; dtc then reports it when it compiles the marker.
inline std::string its_unescape(std::string_view raw) {
    std::string out;
    const auto is_oct = [](char c) { return c >= '0' && c <= '7'; };
    const auto hex_value = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    for (std::size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] != '\\' || i + 1 == raw.size()) {
            out += raw[i];
            continue;
        }
        const char c = raw[++i];
        switch (c) {
            case 'a': out += '\a'; break;
            case 'b': out += '\b'; break;
            case 't': out += '\t'; break;
            case 'n': out += '\n'; break;
            case 'v': out += '\v'; break;
            case 'f': out += '\f'; break;
            case 'r': out += '\r'; break;
            case 'x': {
                unsigned value = 0;
                std::size_t digits = 0;
                for (; digits < 2 && i + 1 < raw.size() && hex_value(raw[i + 1]) >= 0; ++digits)
                    value = value * 16 + static_cast<unsigned>(hex_value(raw[++i]));
                out += digits ? static_cast<char>(value) : 'x';
                break;
            }
            default:
                if (is_oct(c)) {
                    unsigned value = static_cast<unsigned>(c - '0');
                    for (int digits = 1; digits < 3 && i + 1 < raw.size() && is_oct(raw[i + 1]); ++digits)
                        value = value * 8 + static_cast<unsigned>(raw[++i] - '0');
                    out += static_cast<char>(value & 0xff);
                } else {
                    out += c;
                }
        }
    }
    return out;
}

// One /incbin/ directive, by its index N in the markers.
struct its_incbin_directive {
    std::string written;               // the path literal as written, without its quotes
    std::string bytes;                 // what dtc makes of the literal (its_unescape)
    std::string path;                  // the name dtc would open: `bytes` up to a NUL
    std::optional<std::string> dir;    // the directory of the file holding it (its_dir_of)
    std::string origin;                // "dir/image.its:12"
};

// A source file and its rewritten copy, for mapping dtc's messages back.
struct its_copy {
    std::string original;
    std::string rewritten;
};

// Rewrites a source file and, recursively, the files it /include/s into
// `temp`, recording the /incbin/ directives in the order they are met.
// Errors are thrown about `subject` (the .its as given).
class its_rewriter {
public:
    its_rewriter(const its_temp_dir& temp, std::string subject, std::vector<std::string> include_dirs,
                 bool search_current_directory)
        : temp_(temp),
          subject_(std::move(subject)),
          include_dirs_(std::move(include_dirs)),
          search_current_directory_(search_current_directory) {}

    // Rewrites `path` (and what it includes); returns the rewritten copy's path.
    std::string rewrite(const std::string& path) {
        chain_.clear();
        return rewrite_file(path);
    }

    const std::vector<its_incbin_directive>& incbins() const noexcept { return incbins_; }
    const std::vector<its_copy>& copies() const noexcept { return copies_; }

private:
    struct file_id {
        dev_t dev;
        ino_t ino;
        std::string path;
    };

    std::string rewrite_file(const std::string& path) {
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0) throw_os_error(errno, path, "cannot stat");
        // A file included again (from a folder that resolves its names the
        // same way) reuses its copy: a copy depends only on the file and
        // its folder, and rewriting each occurrence would grow
        // exponentially with files that include the next one twice.
        const std::string dir = its_dir_of(path).value_or("");
        for (const auto& done : done_)
            if (done.dev == st.st_dev && done.ino == st.st_ino && done.path == dir) return done_copies_[&done - done_.data()];
        for (const auto& f : chain_)
            if (f.dev == st.st_dev && f.ino == st.st_ino) {
                std::string cycle;
                for (const auto& g : chain_) cycle += g.path + " -> ";
                throw error(errc::invalid_input, subject_, "/include/ cycle: " + cycle + path);
            }
        if (static_cast<int>(chain_.size()) >= its_max_include_depth)
            throw error(errc::invalid_input, subject_,
                        path + ": /include/ nested more than " + std::to_string(its_max_include_depth) + " deep");
        chain_.push_back({st.st_dev, st.st_ino, path});

        const std::string text = read_file_bounded(path, its_max_source_size, "device tree source");
        const std::string out_path = temp_ / ("src-" + std::to_string(copies_.size()) + ".dts");
        copies_.push_back({path, out_path});
        const std::string rewritten = rewrite_text(text, path);
        chain_.pop_back();
        done_.push_back({st.st_dev, st.st_ino, dir});
        done_copies_.push_back(out_path);

        unique_fd fd(::open(out_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
        if (!fd) throw_os_error(errno, out_path, "cannot write");
        write_all(fd.get(), rewritten.data(), rewritten.size(), out_path);
        return out_path;
    }

    // The lexer. `at` walks `text`; what is not a directive is copied.
    std::string rewrite_text(const std::string& text, const std::string& path) {
        std::string out;
        out.reserve(text.size() + 256);
        const std::size_t n = text.size();
        std::size_t at = 0;
        while (at < n) {
            std::size_t end = skip_comment(text, at);
            if (end == at) end = skip_string(text, at);
            if (end == at) end = skip_char_literal(text, at);
            if (end == at) end = skip_path_ref(text, at);
            if (end != at) {
                out.append(text, at, end - at);
                at = end;
            } else if (text.compare(at, 8, "/incbin/") == 0) {
                at = incbin(text, at, path, out);
            } else if (text.compare(at, 9, "/include/") == 0) {
                at = include(text, at, path, out);
            } else {
                out += text[at++];
            }
        }
        return out;
    }

    // The end of a comment at `at`: dtc's COMMENT "/*" ... "*/" or
    // LINECOMMENT "//" to and including a newline; `at` when there is none.
    static std::size_t skip_comment(const std::string& text, std::size_t at) {
        if (text.compare(at, 2, "/*") == 0) {
            const auto close = text.find("*/", at + 2);
            return close == std::string::npos ? at : close + 2;
        }
        if (text.compare(at, 2, "//") == 0) {
            const auto newline = text.find('\n', at + 2);
            return newline == std::string::npos ? at : newline + 1;
        }
        return at;
    }

    // dtc's STRING \"([^\\"]|\\.)*\" ('.' is not a newline).
    static std::size_t skip_string(const std::string& text, std::size_t at) {
        if (at >= text.size() || text[at] != '"') return at;
        for (std::size_t i = at + 1; i < text.size(); ++i) {
            if (text[i] == '"') return i + 1;
            if (text[i] == '\\') {
                if (i + 1 == text.size() || text[i + 1] == '\n') return at;
                ++i;
            }
        }
        return at;
    }

    // dtc's CHAR_LITERAL '([^']|\\')*', matched as flex does, longest
    // first: every quote inside must follow a backslash.
    static std::size_t skip_char_literal(const std::string& text, std::size_t at) {
        if (at >= text.size() || text[at] != '\'') return at;
        std::size_t end = at;
        for (std::size_t i = at + 1; i < text.size(); ++i) {
            if (text[i] != '\'') continue;
            end = i + 1;
            if (!(i > at + 1 && text[i - 1] == '\\')) break;
        }
        return end;
    }

    // dtc's path reference "&{/"{PATHCHAR}*"}", which may hold "/*" or "//".
    static std::size_t skip_path_ref(const std::string& text, std::size_t at) {
        if (text.compare(at, 3, "&{/") != 0) return at;
        static constexpr std::string_view pathchar =
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789,._+*#?@-/";
        std::size_t i = at + 3;
        while (i < text.size() && pathchar.find(text[i]) != std::string_view::npos) ++i;
        return i < text.size() && text[i] == '}' ? i + 1 : at;
    }

    // Whitespace and comments, as dtc skips them between tokens.
    static std::size_t skip_blank(const std::string& text, std::size_t at) {
        for (;;) {
            if (at < text.size() && std::strchr(" \t\n\v\f\r", text[at]) && text[at] != '\0') {
                ++at;
                continue;
            }
            const std::size_t end = skip_comment(text, at);
            if (end == at) return at;
            at = end;
        }
    }

    // dtc's integer_prim: a literal ([0-9]+|0[xX][0-9a-fA-F]+)(U|L|UL|LL|ULL)?,
    // a character literal or '(' integer_expr ')'; its end, or `at`.
    static std::size_t skip_integer_prim(const std::string& text, std::size_t at) {
        const auto digit = [&](std::size_t i, bool hex) {
            if (i >= text.size()) return false;
            const char c = text[i];
            return (c >= '0' && c <= '9') || (hex && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')));
        };
        if (at >= text.size()) return at;
        if (text[at] == '\'') return skip_char_literal(text, at);
        if (text[at] == '(') {
            int depth = 0;
            std::size_t i = at;
            while (i < text.size()) {
                std::size_t end = skip_comment(text, i);
                if (end == i) end = skip_char_literal(text, i);
                if (end != i) {
                    i = end;
                    continue;
                }
                if (text[i] == '"') return at;  // not in an expression
                if (text[i] == '(') ++depth;
                if (text[i] == ')' && --depth == 0) return i + 1;
                ++i;
            }
            return at;
        }
        if (!digit(at, false)) return at;
        std::size_t i = at;
        const bool hex = text[at] == '0' && at + 1 < text.size() && (text[at + 1] == 'x' || text[at + 1] == 'X');
        if (hex && digit(at + 2, true)) {
            i = at + 2;
            while (digit(i, true)) ++i;
        } else {
            while (digit(i, false)) ++i;
        }
        for (const char* suffix : {"ULL", "UL", "LL", "U", "L"})
            if (text.compare(i, std::strlen(suffix), suffix) == 0) return i + std::strlen(suffix);
        return i;
    }

    static std::size_t count_newlines(const std::string& text, std::size_t from, std::size_t to) {
        return static_cast<std::size_t>(std::count(text.begin() + static_cast<std::ptrdiff_t>(from),
                                                   text.begin() + static_cast<std::ptrdiff_t>(to), '\n'));
    }

    // Pads `replacement` with newlines to as many as text[from, to) holds.
    static void append_keeping_lines(std::string& out, std::string replacement, const std::string& text,
                                     std::size_t from, std::size_t to) {
        const std::size_t want = count_newlines(text, from, to);
        const std::size_t have = count_newlines(replacement, 0, replacement.size());
        if (want > have) replacement.append(want - have, '\n');
        out += replacement;
    }

    std::string origin(const std::string& text, std::size_t at, const std::string& path) const {
        return path + ":" + std::to_string(1 + count_newlines(text, 0, at));
    }

    // /incbin/ at `at`: appends the marker, returns where the directive ends.
    std::size_t incbin(const std::string& text, std::size_t at, const std::string& path, std::string& out) {
        const auto fail = [&]() -> std::size_t {
            throw error(errc::invalid_input, subject_,
                        origin(text, at, path) +
                            ": /incbin/ not understood: expected /incbin/(\"file\") or /incbin/(\"file\", "
                            "offset, length)");
        };
        std::size_t i = skip_blank(text, at + 8);
        if (i >= text.size() || text[i] != '(') return fail();
        i = skip_blank(text, i + 1);
        const std::size_t literal_end = skip_string(text, i);
        if (literal_end == i) return fail();
        const std::string literal = text.substr(i, literal_end - i);
        i = skip_blank(text, literal_end);
        std::string range = "0 0xffffffffffffffff";
        if (i < text.size() && text[i] == ',') {
            std::string parts[2];
            for (int k = 0; k < 2; ++k) {
                i = skip_blank(text, i + (k == 0 ? 1 : 0));
                const std::size_t end = skip_integer_prim(text, i);
                if (end == i) return fail();
                parts[k] = text.substr(i, end - i);
                i = skip_blank(text, end);
                if (k == 0) {
                    if (i >= text.size() || text[i] != ',') return fail();
                    ++i;
                }
            }
            range = parts[0] + " " + parts[1];
        }
        if (i >= text.size() || text[i] != ')') return fail();
        const std::size_t end = i + 1;

        its_incbin_directive d;
        d.written = literal.substr(1, literal.size() - 2);
        d.bytes = its_unescape(d.written);
        d.path = d.bytes.substr(0, d.bytes.find('\0'));
        d.dir = its_dir_of(path);
        d.origin = origin(text, at, path);
        const std::size_t index = incbins_.size();
        incbins_.push_back(std::move(d));

        static constexpr char digits[] = "0123456789abcdef";
        std::string marker = "[";
        for (const unsigned char b : its_marker_magic) {
            marker += digits[b >> 4];
            marker += digits[b & 15];
        }
        marker += "], /bits/ 32 <" + std::to_string(index) + ">, " + literal + ", /bits/ 64 <" + range + ">";
        append_keeping_lines(out, std::move(marker), text, at, end);
        return end;
    }

    // /include/ at `at`: dtc's "/include/"{WS}*{STRING}, whose name is taken
    // raw (no escapes). Anything else is left for dtc to refuse.
    std::size_t include(const std::string& text, std::size_t at, const std::string& path, std::string& out) {
        std::size_t i = at + 9;
        while (i < text.size() && std::strchr(" \t\n\v\f\r", text[i]) && text[i] != '\0') ++i;
        const std::size_t end = skip_string(text, i);
        if (end == i) {
            out += text[at];
            return at + 1;
        }
        const std::string name = text.substr(i + 1, end - i - 2);
        const its_resolved found = its_resolve(name, its_dir_of(path), include_dirs_, search_current_directory_);
        if (found.error != 0)
            throw_os_error(found.error, subject_, origin(text, at, path) + ": /include/ \"" + name + "\"");
        const std::string copy = rewrite_file(found.path);
        // The copies share one directory, which dtc searches first: the
        // copy's own name needs no escaping, whatever the directory's path
        // holds (dtc takes an /include/ name raw, so a '"' or '\' in it
        // could not be written).
        const std::string copy_name = copy.substr(copy.rfind('/') + 1);
        append_keeping_lines(out, "/include/ \"" + copy_name + "\"", text, at, end);
        return end;
    }

    const its_temp_dir& temp_;
    std::string subject_;
    std::vector<std::string> include_dirs_;
    bool search_current_directory_;
    std::vector<file_id> chain_;
    std::vector<file_id> done_;  // files rewritten (path: their folder), parallel to done_copies_
    std::vector<std::string> done_copies_;
    std::vector<its_incbin_directive> incbins_;
    std::vector<its_copy> copies_;
};

// A property value cut at its markers.
struct its_marker {
    std::uint32_t index = 0;  // N: its_rewriter::incbins()[N]
    std::uint64_t offset = 0;
    std::uint64_t length = 0;  // all ones: to the end of the file
};
struct its_value_part {
    std::string bytes;                // literal bytes, when `marker` is empty
    std::optional<its_marker> marker;
};

// Whether `value` holds a marker.
inline bool its_has_marker(const char* value, std::size_t size) {
    const auto* magic = reinterpret_cast<const char*>(its_marker_magic);
    return std::search(value, value + size, magic, magic + sizeof its_marker_magic) != value + size;
}

// Cuts `value` into literal bytes and markers: magic, N (be32), the path
// literal's bytes as dtc compiled them with a NUL (compared with the
// directive's, which may itself hold a NUL), OFF and LEN (be64). Returns an
// empty string on success, else what is wrong.
inline std::string its_decode_markers(const char* value, std::size_t size,
                                      const std::vector<its_incbin_directive>& directives,
                                      std::vector<its_value_part>& parts) {
    const auto* magic = reinterpret_cast<const char*>(its_marker_magic);
    const auto be = [&](std::size_t at, std::size_t bytes) {
        std::uint64_t v = 0;
        for (std::size_t k = 0; k < bytes; ++k) v = (v << 8) | static_cast<unsigned char>(value[at + k]);
        return v;
    };
    std::size_t at = 0;
    while (at < size) {
        const char* found = std::search(value + at, value + size, magic, magic + sizeof its_marker_magic);
        const auto start = static_cast<std::size_t>(found - value);
        if (start > at) parts.push_back({std::string(value + at, start - at), std::nullopt});
        if (start == size) break;
        std::size_t i = start + sizeof its_marker_magic;
        if (size - i < 4) return "a truncated /incbin/ marker";
        its_marker m;
        m.index = static_cast<std::uint32_t>(be(i, 4));
        i += 4;
        if (m.index >= directives.size()) return "an /incbin/ marker with an unknown index " + std::to_string(m.index);
        const std::string& bytes = directives[m.index].bytes;
        if (size - i < bytes.size() + 1 + 16 || std::memcmp(value + i, bytes.data(), bytes.size()) != 0 ||
            value[i + bytes.size()] != '\0')
            return "an /incbin/ marker that does not match its directive at " + directives[m.index].origin;
        i += bytes.size() + 1;
        m.offset = be(i, 8);
        m.length = be(i + 8, 8);
        i += 16;
        parts.push_back({std::string(), m});
        at = i;
    }
    return {};
}

}  // namespace detail
}  // namespace fitstream
