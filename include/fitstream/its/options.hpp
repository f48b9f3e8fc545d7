// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// How an image tree source becomes a FIT: the choices `mkimage -f` takes
/// on its command line (timestamp, keys, `-K`, `-r`, `-c`, `-o`), and the
/// checks and compression fitstream adds.

#include <cstdint>
#include <optional>
#include <string>

namespace fitstream {
namespace its {

/// The options of write_its() besides the layout (which write_options
/// carries: embedded or external data, `-B` alignment, `-p` position).
struct build_options {
    /// The root `timestamp` and every new signature's `timestamp`, as
    /// mkimage writes them; empty: the current time.
    std::optional<std::uint32_t> timestamp;

    /// Signing, as mkimage: with a key directory (`-k`) or a key file (`-G`)
    /// every `signature-N` node of the source is signed, images' and
    /// configurations'; without either, signature nodes are left as written.
    std::string key_dir;
    std::string key_file;
    /// `-o`: the `algo` every signature is made with and written as,
    /// overriding the nodes' own; empty keeps theirs.
    std::string algo;
    /// `-c`: the `comment` of every new signature.
    std::string comment;
    /// `signer-name` and `signer-version` of new signatures (mkimage writes
    /// its own name and U-Boot's version); empty version: fitstream's.
    std::string signer_name = "fitstream";
    std::string signer_version;
    /// `-r`: keys written to the key DTB are marked required (`required =
    /// "conf"` or `"image"`, as the signature they made).
    bool require_keys = false;

    /// Compresses an image whose node declares a codec and whose payload is
    /// plain data, in the container U-Boot decodes for that name (a source
    /// can then point at a plain Image and ship a gzip kernel). An image
    /// whose payload already matches is stored as is.
    bool compress_images = false;
    /// Stores a payload whose bytes do not match its node's `compression`
    /// anyway (U-Boot will fail to decompress it); by default that is an error.
    bool allow_compression_mismatch = false;
    /// Bytes of `/incbin/` data read into memory where a payload cannot be
    /// streamed (a property other than an image's `data`, or a value that
    /// mixes literal bytes and files); more is an error.
    std::uint64_t max_inline_payload = 64u << 20;
};

}  // namespace its
}  // namespace fitstream
