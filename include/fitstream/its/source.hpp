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

#include <fitstream/detail/io/file.hpp>
#include <fitstream/detail/its/rewrite.hpp>
#include <fitstream/detail/lib/libfdt.hpp>
#include <fitstream/error.hpp>

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

extern char** environ;

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
    /// Every file the source reads or names: the .its, each /include/d
    /// file, each /incbin/ file (for an output that must not be one of them).
    std::vector<std::string> files;
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
    /// More dtc options (mkimage's -D), given before the source: those that
    /// change the tree (-@, -A, -H, -L, -s) take effect; the input and
    /// output format are fitstream's (-I dts -O dtb).
    std::vector<std::string> dtc_args;
};

}  // namespace its

namespace detail {

// What dtc said and how it ended.
struct its_dtc_result {
    int status = 0;  // exit status, or 128 + signal number
    bool signalled = false;
    std::string err;  // the start of its standard error
};

// Runs `argv` (argv[0] found on PATH unless it holds a slash) with no shell,
// standard input and output /dev/null, standard error into `err_path`.
// @throws the OS error when it cannot be started (ENOENT: no such program).
inline its_dtc_result its_run_dtc(const std::vector<std::string>& argv, const std::string& err_path) {
    posix_spawn_file_actions_t actions;
    if (const int rc = ::posix_spawn_file_actions_init(&actions)) throw_os_error(rc, argv.at(0), "cannot run");
    struct cleanup {
        posix_spawn_file_actions_t* a;
        ~cleanup() { ::posix_spawn_file_actions_destroy(a); }
    } destroy{&actions};
    int rc = ::posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    if (!rc) rc = ::posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    if (!rc) rc = ::posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (rc) throw_os_error(rc, argv.at(0), "cannot run");
    std::vector<std::string> args = argv;
    std::vector<char*> argp;
    for (auto& a : args) argp.push_back(a.data());
    argp.push_back(nullptr);
    pid_t pid = 0;
    rc = ::posix_spawnp(&pid, argp[0], &actions, nullptr, argp.data(), environ);
    if (rc) throw_os_error(rc, argv.at(0), "cannot run");
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) throw_os_error(errno, argv.at(0), "cannot wait for");

    its_dtc_result result;
    result.signalled = WIFSIGNALED(status);
    result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    // dtc's first error comes early; a flood of warnings is not kept.
    const int fd = ::open(err_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        const unique_fd owned(fd);
        result.err.resize(64 * 1024);
        result.err.resize(read_up_to(fd, result.err.data(), result.err.size(), err_path));
    }
    return result;
}

// The first line of dtc's standard error that says what failed ("Error:
// ...", "Lexical error: ...", "...: ERROR (check): ...", "FATAL ERROR: ...";
// else the first line), with the rewritten copies' paths replaced by the
// user's files' paths.
inline std::string its_dtc_message(const std::string& err, const std::vector<its_copy>& copies) {
    std::string first, chosen;
    std::size_t at = 0;
    while (at < err.size() && chosen.empty()) {
        auto end = err.find('\n', at);
        if (end == std::string::npos) end = err.size();
        const std::string line = err.substr(at, end - at);
        at = end + 1;
        if (line.empty()) continue;
        if (first.empty()) first = line;
        for (const char* start : {"Error:", "Lexical error:", "FATAL ERROR:", "ERROR:"})
            if (line.compare(0, std::strlen(start), start) == 0) chosen = line;
        if (line.find(": ERROR (") != std::string::npos) chosen = line;  // a failed check
    }
    std::string message = chosen.empty() ? first : chosen;
    // Longest first, so that no path is replaced inside a longer one.
    std::vector<its_copy> by_length = copies;
    std::sort(by_length.begin(), by_length.end(),
              [](const its_copy& a, const its_copy& b) { return a.rewritten.size() > b.rewritten.size(); });
    for (const auto& c : by_length)
        for (auto pos = message.find(c.rewritten); pos != std::string::npos;
             pos = message.find(c.rewritten, pos + c.original.size()))
            message.replace(pos, c.rewritten.size(), c.original);
    return message;
}

}  // namespace detail

namespace its {

/// Compiles the image tree source at `path` with dtc, without reading a
/// byte of any `/incbin/` file.
///
/// Every `/incbin/("file"[, offset, length])` becomes a payload_property
/// piece: a range of a file, resolved as dtc resolves it (the directory of
/// the file holding the directive, then `options.include_dirs` in order,
/// then the current directory when `options.search_current_directory`),
/// checked with stat() only. The property's value in the blob is empty.
/// `/include/`d files are compiled the same way, recursively. Temporary
/// files (rewritten copies of the sources, dtc's output) are made in a
/// directory under $TMPDIR (or /tmp), removed before this returns or throws.
///
/// Unlike dtc, which reads what there is, an offset or length that goes
/// beyond the end of its file is refused.
///
/// @param path    the .its; messages name it as given
/// @param options where files and dtc are found
/// @returns the compiled blob and its payloads, in node order
/// @throws fitstream::error:
///   - errc::invalid_input: dtc refused the source (the reason is dtc's
///     first error line, e.g. "Error: dir/image.its:12.5-6 syntax error",
///     naming the user's files); an /incbin/ the front end cannot parse;
///     an /include/ cycle or nesting deeper than 64; an /incbin/ file that
///     is not a regular file, or a range beyond its end
///     ("/images/kernel: data: /incbin/(\"Image\") at image.its:12: ...");
///   - the OS error: the .its or an /include/d file cannot be read or
///     found; an /incbin/ file is missing (ENOENT, worded as above); dtc
///     cannot be run (ENOENT: dtc is not installed; Debian's package is
///     device-tree-compiler);
///   - a libfdt error when dtc's output is not a valid blob.
///
/// @code
/// fitstream::its::compile_options options;
/// options.include_dirs = {"board/common"};
/// auto its = fitstream::its::compile_its("board/image.its", options);
/// @endcode
inline compiled_source compile_its(const std::string& path, const compile_options& options = {}) {
    const detail::its_temp_dir temp;
    detail::its_rewriter rewriter(temp, path, options.include_dirs, options.search_current_directory);
    const std::string main_copy = rewriter.rewrite(path);
    const auto& directives = rewriter.incbins();

    // dtc: the blob, or its first error about the user's own files.
    const std::string out_path = temp / "out.dtb";
    detail::its_dtc_result dtc;
    try {
        std::vector<std::string> argv{options.dtc, "-I", "dts", "-O", "dtb", "-o", out_path};
        argv.insert(argv.end(), options.dtc_args.begin(), options.dtc_args.end());
        argv.push_back(main_copy);
        dtc = detail::its_run_dtc(argv, temp / "dtc.err");
    } catch (const error& e) {
        if (e.code() == std::errc::no_such_file_or_directory)
            throw error(e.code(), options.dtc,
                        "cannot run; compiling an image tree source needs dtc (Debian package device-tree-compiler)");
        throw;
    }
    if (dtc.status != 0) {
        std::string message = detail::its_dtc_message(dtc.err, rewriter.copies());
        if (dtc.signalled)
            message = "dtc killed by signal " + std::to_string(dtc.status - 128) +
                      (message.empty() ? "" : ": " + message);
        if (message.empty()) message = "dtc failed with exit status " + std::to_string(dtc.status);
        throw error(errc::invalid_input, path, message);
    }
    const std::string bytes = detail::read_file_bounded(out_path, 256u << 20, "devicetree blob from dtc");
    std::vector<std::uint64_t> aligned((bytes.size() + 7) / 8 + 1);
    std::memcpy(aligned.data(), bytes.data(), bytes.size());
    const void* fdt = aligned.data();
    detail::fdt_check(detail::check_fdt(fdt, bytes.size()), path, "dtc's output");

    compiled_source result;
    result.path = path;
    for (const auto& copy : rewriter.copies()) result.files.push_back(copy.original);
    std::vector<int> payload_nodes;  // the node offset of each payload, for emptying its value
    std::vector<std::string> node_paths;
    int depth = 0;
    int node = 0;
    // Depth-first, in blob order; past the root's end the depth is -1.
    for (; node >= 0 && depth >= 0; node = fdt_next_node(fdt, node, &depth)) {
        const char* name = fdt_get_name(fdt, node, nullptr);
        if (!name) detail::fdt_check(-FDT_ERR_BADSTRUCTURE, path, "dtc's output");
        node_paths.resize(static_cast<std::size_t>(depth) + 1);
        node_paths[static_cast<std::size_t>(depth)] =
            depth == 0 ? "/" : (depth == 1 ? "" : node_paths[static_cast<std::size_t>(depth) - 1]) + "/" + name;
        const std::string& node_path = node_paths[static_cast<std::size_t>(depth)];
        int prop = 0;
        fdt_for_each_property_offset(prop, fdt, node) {
            const char* prop_name = nullptr;
            int len = 0;
            const auto* value = static_cast<const char*>(fdt_getprop_by_offset(fdt, prop, &prop_name, &len));
            if (!value || !prop_name) detail::fdt_check(len < 0 ? len : -FDT_ERR_BADSTRUCTURE, path, "dtc's output");
            if (!detail::its_has_marker(value, static_cast<std::size_t>(len))) continue;

            const std::string where = node_path + ": " + prop_name;
            std::vector<detail::its_value_part> parts;
            const std::string bad = detail::its_decode_markers(value, static_cast<std::size_t>(len), directives, parts);
            if (!bad.empty()) throw error(errc::invalid_input, path, where + ": " + bad);

            payload_property payload{node_path, prop_name, {}};
            for (auto& part : parts) {
                value_piece piece;
                if (!part.marker) {
                    piece.bytes.assign(part.bytes.begin(), part.bytes.end());
                    payload.pieces.push_back(std::move(piece));
                    continue;
                }
                const auto& d = directives[part.marker->index];
                const std::string what = where + ": /incbin/(\"" + d.written + "\") at " + d.origin;
                const detail::its_resolved found =
                    detail::its_resolve(d.path, d.dir, options.include_dirs, options.search_current_directory);
                if (found.error) detail::throw_os_error(found.error, path, what);
                struct stat st {};
                if (::stat(found.path.c_str(), &st) != 0) detail::throw_os_error(errno, path, what);
                // /dev/null is an empty payload (U-Boot's own build packs
                // `-f auto -d /dev/null`); any other non-regular file has no
                // size to plan with.
                const bool dev_null = S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3);
                if (!S_ISREG(st.st_mode) && !dev_null)
                    throw error(errc::invalid_input, path, what + ": not a regular file");
                const auto size = dev_null ? std::uint64_t{0} : static_cast<std::uint64_t>(st.st_size);
                const std::uint64_t offset = part.marker->offset;
                const bool to_end = part.marker->length == ~std::uint64_t{0};
                if (offset > size || (!to_end && part.marker->length > size - offset))
                    throw error(errc::invalid_input, path,
                                what + ": offset " + std::to_string(offset) +
                                    (to_end ? "" : " + length " + std::to_string(part.marker->length)) +
                                    " is beyond the end of " + found.path + " (" + std::to_string(size) + " bytes)");
                incbin file;
                file.path = found.path;
                result.files.push_back(found.path);
                file.written = d.written;
                file.offset = offset;
                file.length = to_end ? size - offset : part.marker->length;
                file.origin = d.origin;
                piece.file = std::move(file);
                payload.pieces.push_back(std::move(piece));
            }
            result.payloads.push_back(std::move(payload));
            payload_nodes.push_back(node);
        }
        if (prop != -FDT_ERR_NOTFOUND) detail::fdt_check(prop, path, "dtc's output");
    }
    if (node < 0 && node != -FDT_ERR_NOTFOUND) detail::fdt_check(node, path, "dtc's output");

    // Empty each payload property in place, last first: a property made
    // shorter moves only what follows it, so earlier node offsets hold.
    const int size = static_cast<int>(fdt_totalsize(fdt));
    std::vector<std::uint64_t> edited((static_cast<std::size_t>(size) + 7) / 8);
    detail::fdt_check(fdt_open_into(fdt, edited.data(), size), path, "dtc's output");
    for (std::size_t i = result.payloads.size(); i-- > 0;)
        detail::fdt_check(fdt_setprop(edited.data(), payload_nodes[i], result.payloads[i].property.c_str(), "", 0),
                          path, "emptying a payload property");
    detail::fdt_check(fdt_pack(edited.data()), path, "dtc's output");
    const auto* packed = reinterpret_cast<const char*>(edited.data());
    result.blob.assign(packed, packed + fdt_totalsize(edited.data()));
    return result;
}

}  // namespace its
}  // namespace fitstream
