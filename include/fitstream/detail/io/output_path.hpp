// SPDX-License-Identifier: MIT
#pragma once

// Where an output really goes, and which file a path names. A symbolic link
// as the output is written through (the file it points to is replaced and
// the link kept, as a shell's `>` does); two spellings of one file, or an
// output and an input that are one file, are found by device and inode
// (refuse_clashing_files(), which every writer of the library and fitpack
// uses).

#include <fitstream/error.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace fitstream {
namespace detail {

/// `path` split into its directory (with the trailing '/', empty for the
/// current one) and its last component.
inline std::pair<std::string, std::string> split_directory(const std::string& path) {
    const auto slash = path.rfind('/');
    if (slash == std::string::npos) return {std::string(), path};
    return {path.substr(0, slash + 1), path.substr(slash + 1)};
}

/// `path` with every symbolic link at its last component followed, as
/// open() follows them (at most 40, the kernel's limit): the file a write
/// through `path` must replace. A relative link is taken from the link's
/// own directory; a dangling link gives the file it would create. Links in
/// the directory part are left alone: rename() follows them itself.
/// @throws fitstream::error ELOOP naming `path` past 40 links, or the OS
///         error of readlink()
inline std::string resolve_final_symlinks(const std::string& path) {
    std::string current = path;
    for (int hops = 0; hops <= 40; ++hops) {
        struct stat st {};
        if (::lstat(current.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return current;
        // st_size is the link's length, except for /proc's magic links (0).
        std::string target(st.st_size > 0 ? static_cast<std::size_t>(st.st_size) + 1 : 256, '\0');
        for (;;) {
            const ssize_t n = ::readlink(current.c_str(), target.data(), target.size());
            if (n < 0) throw_os_error(errno, path, "cannot follow the link");
            if (static_cast<std::size_t>(n) < target.size()) {
                target.resize(static_cast<std::size_t>(n));
                break;
            }
            target.resize(target.size() * 2);
        }
        if (target.empty()) return current;
        current = target.front() == '/' ? target : split_directory(current).first + target;
    }
    throw_os_error(ELOOP, path, "cannot follow the link");
}

/// Which file a path names, for comparing paths: an existing file by its
/// device and inode however it is spelt (`name` empty); a file not there
/// yet by its directory's device and inode and its name.
struct file_identity {
    dev_t device = 0;
    ino_t inode = 0;
    std::string name;

    bool exists() const noexcept { return name.empty(); }
    friend bool operator==(const file_identity& a, const file_identity& b) {
        return a.device == b.device && a.inode == b.inode && a.name == b.name;
    }
    friend bool operator!=(const file_identity& a, const file_identity& b) { return !(a == b); }
};

/// The identity of `path` (see file_identity); nullopt when neither the
/// file nor its directory can be examined (then no write to it can succeed
/// either, and the write reports why).
inline std::optional<file_identity> identity_of(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) return file_identity{st.st_dev, st.st_ino, {}};
    std::string target;
    try {
        target = resolve_final_symlinks(path);
    } catch (const error&) {
        return std::nullopt;
    }
    auto [directory, name] = split_directory(target);
    if (name.empty() || name == "." || name == "..") return std::nullopt;
    if (::stat(directory.empty() ? "." : directory.c_str(), &st) != 0) return std::nullopt;
    return file_identity{st.st_dev, st.st_ino, std::move(name)};
}

/// A file a run writes, and the role that names it in messages ("output",
/// "--depfile", "--key-dtb").
struct written_file {
    std::string role;
    std::string path;
};

/// The one check that no output is an input, and no two outputs are one
/// file: each of `written` (an empty path or "-" is skipped) is compared
/// with the others, and with every path `for_each_input(visit)` passes to
/// `visit`, by device and inode (a file not there yet by its directory and
/// name). The inputs are not visited at all when no written file exists
/// yet (then none is an input), so 100,000 DTBs cost one stat each only
/// when an output is there already. A rename over an input would replace
/// it with the result, which is never what the caller meant.
/// @throws fitstream::error errc::invalid_argument naming the written file:
///         "ROLE would overwrite an input (INPUT)", or "the output and
///         --depfile are the same file"
template <class ForEachInput>
void refuse_clashing_files(const std::vector<written_file>& written, ForEachInput&& for_each_input) {
    struct checked {
        const written_file* file;
        file_identity id;
    };
    std::vector<checked> outputs;
    for (const auto& w : written) {
        if (w.path.empty() || w.path == "-") continue;
        const auto id = identity_of(w.path);
        if (!id) continue;  // its write fails and says why
        for (const auto& earlier : outputs)
            if (earlier.id == *id)
                throw error(errc::invalid_argument, w.path,
                            (earlier.file->role == "output" ? "the output" : earlier.file->role) + " and " + w.role +
                                " are the same file");
        outputs.push_back({&w, *id});
    }
    bool any_exists = false;
    for (const auto& o : outputs) any_exists = any_exists || o.id.exists();
    if (!any_exists) return;
    for_each_input([&](const std::string& input) {
        struct stat in {};
        if (input == "-" || ::stat(input.c_str(), &in) != 0) return;
        for (const auto& o : outputs)
            if (o.id.exists() && o.id.device == in.st_dev && o.id.inode == in.st_ino)
                throw error(errc::invalid_argument, o.file->path,
                            o.file->role + " would overwrite an input (" + input + ")");
    });
}

}  // namespace detail
}  // namespace fitstream
