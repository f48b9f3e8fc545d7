// SPDX-License-Identifier: MIT
#pragma once

// Where fitpack's results go: the FIT (a file, replaced atomically, or
// standard output) and the depfile, staged beside its target and renamed
// into place only once the FIT has been written.

#include <fitstream/fitstream.hpp>

#include <unistd.h>

#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace fitpack {

/// Runs `write(sink&)` on the output: a file sink (replaced atomically) or,
/// for "-", standard output, which must not be a terminal.
template <class Write>
fitstream::write_result write_output(const std::string& output, Write&& write) {
    if (output != "-") {
        fitstream::file_sink out(output);
        return write(out);
    }
    if (::isatty(STDOUT_FILENO))
        throw fitstream::error(fitstream::errc::invalid_argument, "standard output",
                               "refusing to write a binary FIT to a terminal");
    fitstream::fd_sink out(STDOUT_FILENO, "standard output");
    return write(out);
}

/// Writes the FIT to a file (atomically, never over one of its inputs) or,
/// for "-", to standard output.
inline fitstream::write_result write_fit_to(const std::string& output, const fitstream::tree& fit,
                                            const fitstream::write_options& options) {
    if (output != "-") fitstream::detail::refuse_overwriting_inputs(fit, output);
    return write_output(output, [&](fitstream::sink& out) { return fitstream::write_fit(fit, out, options); });
}

/// A depfile written to a temporary file now and renamed into place by
/// commit(), so that a failed run leaves the old one.
class staged_depfile {
public:
    /// Stages `target`'s depfile at `path` listing `inputs` once each, in
    /// order; an empty `path` stages nothing.
    staged_depfile(const std::string& path, const std::string& target, const std::vector<std::string>& inputs) {
        if (path.empty()) return;
        // Linear, not a search per file: Kbuild may list 100,000 DTBs.
        std::vector<std::string> unique;
        std::unordered_set<std::string_view> seen;
        for (const auto& f : inputs)
            if (seen.insert(f).second) unique.push_back(f);
        const std::string text = fitstream::depfile_text(target, unique);
        file_.emplace(path);
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
