// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// Writes the FIT an image tree source describes, as `mkimage -f` would
/// (the same nodes, properties, order and values; mkimage's -E, -B, -p, -k,
/// -G, -K, -r, -c and -o as options), in the writer's single pass: the
/// payloads named by `/incbin/` stream through codec and hashes on every
/// worker, in chunks, never held whole.
///
/// @code
/// auto its = fitstream::its::compile_its("image.its");
/// fitstream::file_sink out("image.fit");
/// fitstream::write_options write;
/// write.layout.layout = fitstream::data_layout::external;   // mkimage -E
/// fitstream::its::write_its(its, out, {}, write);
/// @endcode

#include <fitstream/detail/its/structure.hpp>
#include <fitstream/its/options.hpp>
#include <fitstream/its/source.hpp>
#include <fitstream/sign/key_dtb.hpp>
#include <fitstream/sink.hpp>
#include <fitstream/writer.hpp>

#include <string>
#include <vector>

namespace fitstream {
namespace its {

/// An image tree source ready to write: checked, with every key loaded, its
/// structure laid out. Nothing has been read but the payloads' first bytes.
class prepared_source {
public:
    /// @throws fitstream::error: a check of <fitstream/its/checks.hpp>
    ///         (errc::invalid_argument, or errc::invalid_input for a payload
    ///         that does not match its `compression`), a hash or signature
    ///         the node names that fitstream cannot make (errc::unsupported),
    ///         a key that cannot be read or does not suit its algo, a missing
    ///         /incbin/ file, or libfdt's error.
    prepared_source(const compiled_source& source, const build_options& options, const layout_options& layout)
        : plan_(fitstream::detail::plan_its(source, options, layout)) {}

    /// The images to stream, in /images order (name, source, codec, hashes).
    const std::vector<image>& images() const noexcept { return plan_.fit.images; }

    /// The public keys of every signature made, for a key DTB (mkimage -K),
    /// in the order made; a key used twice appears twice (the last says
    /// what it is `required` for, as with mkimage).
    const std::vector<key_dtb_entry>& key_dtb_entries() const noexcept { return plan_.key_dtb_entries; }

    /// Every key file the signatures are made with, and every cipher key
    /// and IV file (KEYDIR/NAME.bin) read.
    const std::vector<std::string>& key_files() const noexcept { return plan_.key_files; }

    /// The keys of the encrypted images (cipher nodes), in /images order,
    /// for a key DTB (mkimage -K writes them before the signature keys:
    /// key_dtb::add_cipher()).
    const std::vector<std::shared_ptr<const cipher_key>>& cipher_keys() const noexcept { return plan_.cipher_keys; }

    /// Writes the FIT to `out` and commits it (see write_fit()); `options`'
    /// layout must be the one the source was prepared with. Once only.
    /// @throws fitstream::error as write_fit()
    write_result write(sink& out, const write_options& options) && {
        return fitstream::detail::write_structured(plan_.fit, std::move(plan_.st), out, options);
    }

private:
    fitstream::detail::its_plan plan_;
};

/// prepare, then write: see prepared_source.
inline write_result write_its(const compiled_source& source, sink& out, const build_options& options = {},
                              const write_options& write = {}) {
    return prepared_source(source, options, write.layout).write(out, write);
}

}  // namespace its
}  // namespace fitstream
