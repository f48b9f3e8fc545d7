// SPDX-License-Identifier: MIT
#pragma once

// Where fitpack's results go: the FIT (a file, replaced atomically, a
// device or FIFO written as a stream, or standard output) and the depfile,
// staged beside its target and renamed into place only once the FIT has
// been written. Every verb opens its output here (open_output()), and no
// output may be a file the run reads or another of its outputs
// (refuse_clashing_files()).

#include <fitstream/fitstream.hpp>

#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace fitpack {

/// Opens `output` for a verb's result: a file_sink (a file replaced
/// atomically and synced as `sync` says; a device, FIFO or socket written
/// as a stream) or, for "-", standard output, which must not be a terminal
/// when `binary`. `inputs` are the files the verb reads: none of them may
/// be the output.
/// @throws fitstream::error as file_sink, fd_sink and fitstream::detail::refuse_clashing_files()
inline std::unique_ptr<fitstream::sink> open_output(const std::string& output,
                                                    const std::vector<std::string>& inputs, bool binary = true,
                                                    fitstream::file_sync sync = fitstream::file_sync::synced) {
    if (output == "-") {
        if (binary && ::isatty(STDOUT_FILENO))
            throw fitstream::error(fitstream::errc::invalid_argument, "standard output",
                                   "refusing to write a binary FIT to a terminal");
        return std::make_unique<fitstream::fd_sink>(STDOUT_FILENO, "standard output");
    }
    fitstream::detail::refuse_clashing_files({{"output", output}}, [&](const auto& visit) {
        for (const auto& f : inputs) visit(f);
    });
    return std::make_unique<fitstream::file_sink>(output, sync);
}

/// How write_output() writes.
struct output_options {
    /// The layout written: an error about its alignment, or a disk-full
    /// error while its padding is large, names `align_option`.
    const fitstream::layout_options* layout = nullptr;
    std::string align_option = "-B";
    fitstream::file_sync sync = fitstream::file_sync::synced;
};

namespace detail {

/// `value` as -B is usually spelt: 0x80000000.
inline std::string hex(std::uint64_t value) {
    std::ostringstream out;
    out << "0x" << std::hex << value;
    return out.str();
}

/// A write that ran out of room (disk full, quota, file size limit) while
/// -B pads with large gaps says so: the padding, not the payloads, is what
/// may not fit. From 1 MiB on the padding can be most of the file. The
/// library's "align" is named as the command line names it.
inline void rethrow_naming_alignment(const fitstream::error& e, const fitstream::layout_options& layout,
                                     const std::string& align_option) {
    if (e.subject() == "align") throw fitstream::error(e.code(), align_option, e.reason());
    const int code = e.code().category() == std::generic_category() ? e.code().value() : 0;
    if (layout.layout != fitstream::data_layout::external || layout.align < (1u << 20) ||
        (code != ENOSPC && code != EDQUOT && code != EFBIG))
        throw;
    // reason() is "DETAIL: MESSAGE"; the hint goes after DETAIL.
    std::string detail = e.reason();
    const std::string message = e.code().message();
    if (detail.size() >= message.size() + 2 && detail.compare(detail.size() - message.size(), message.size(), message) == 0)
        detail.resize(detail.size() - message.size() - 2);
    else
        detail = "cannot write";
    throw fitstream::error(e.code(), e.subject(),
                           detail + " (-B " + hex(layout.align) + " pads the structure and every image to a multiple "
                                    "of " + std::to_string(layout.align) + " bytes)");
}

}  // namespace detail

/// Runs `write(sink&)` on the output (see open_output()).
template <class Write>
fitstream::write_result write_output(const std::string& output, Write&& write, const output_options& how = {}) {
    const std::unique_ptr<fitstream::sink> out = open_output(output, {}, true, how.sync);
    try {
        return write(*out);
    } catch (const fitstream::error& e) {
        if (how.layout) detail::rethrow_naming_alignment(e, *how.layout, how.align_option);
        throw;
    }
}

/// Writes the FIT to a file (atomically) or, for "-", to standard output.
/// The caller has checked that the output is none of the inputs
/// (refuse_clashing_files()).
/// `Fit`: a fitstream::tree or fitstream::fit_plan.
template <class Fit>
fitstream::write_result write_fit_to(const std::string& output, const Fit& fit, const fitstream::write_options& options,
                                     fitstream::file_sync sync) {
    return write_output(
        output, [&](fitstream::sink& out) { return fitstream::write_fit(fit, out, options); },
        {&options.layout, "-B/--align", sync});
}

/// A depfile written to a temporary file now and renamed into place by
/// commit(), so that a failed run leaves the old one.
class staged_depfile {
public:
    /// Stages `target`'s depfile at `path` listing `inputs` once each, in
    /// order; an empty `path` stages nothing.
    staged_depfile(const std::string& path, const std::string& target, const std::vector<std::string>& inputs,
                   fitstream::file_sync sync) {
        if (path.empty()) return;
        // Linear, not a search per file: Kbuild may list 100,000 DTBs.
        std::vector<std::string> unique;
        std::unordered_set<std::string_view> seen;
        for (const auto& f : inputs)
            if (seen.insert(f).second) unique.push_back(f);
        const std::string text = fitstream::depfile_text(target, unique);
        file_.emplace(path, sync);
        file_->write_at(0, text.data(), text.size());
        size_ = text.size();
    }

    void commit() {
        if (file_) file_->commit(size_);
    }

private:
    std::optional<fitstream::file_sink> file_;
    std::size_t size_ = 0;
};

}  // namespace fitpack
