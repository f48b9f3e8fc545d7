// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// What a `signature-N` node should say and which key makes its value: the
/// plain description a tree carries (no OpenSSL here). Keys are loaded and
/// checked when the structure is built (<fitstream/sign/key.hpp>), before
/// any payload is read, and the signatures are made once every image hash
/// is known, in the same single pass over the payloads.
///
/// @code
/// fitstream::signature_spec sig;
/// sig.algo = "sha256,rsa2048";
/// sig.key_name_hint = "dev";     // U-Boot's /signature/key-dev
/// sig.key_dir = "keys";          // keys/dev.key, as mkimage -k keys
/// fit.configurations[0].signatures.push_back(sig);
/// @endcode

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace fitstream {

class signer;  // <fitstream/sign/signer.hpp>

/// RSA padding of a signature (`padding` property).
enum class signature_padding {
    pkcs1_5,  ///< "pkcs-1.5", U-Boot's default; the property is omitted
    pss,      ///< "pss" (RSASSA-PSS, salt as long as the key allows, as mkimage)
};

/// One signature node, in a configuration or an image.
struct signature_spec {
    /// `algo`: "<checksum>,<crypto>" with checksum sha1, sha256, sha384 or
    /// sha512 and crypto rsa2048, rsa3072, rsa4096, ecdsa256 (prime256v1)
    /// or ecdsa384 (secp384r1).
    std::string algo = "sha256,rsa2048";
    /// `key-name-hint`: names the key in U-Boot's control DTB
    /// (/signature/key-<hint>) and, with key_dir, the key file.
    std::string key_name_hint;
    /// Who signs, when it is not a key file: a key in a token, an external
    /// command, a service (see <fitstream/sign/signer.hpp>). Takes
    /// precedence over key_file and key_dir.
    std::shared_ptr<const signer> key_signer;
    /// A PEM private key file (RSA or EC). Takes precedence over key_dir.
    std::string key_file;
    /// A directory holding `<key_name_hint>.key`, as `mkimage -k DIR`.
    std::string key_dir;
    /// Configurations only: `sign-images`, the configuration properties
    /// whose images the signature covers. Empty: kernel, fdt, ramdisk and
    /// loadables, each when the configuration has it: U-Boot refuses a
    /// signature that leaves out an image the configuration names.
    std::vector<std::string> sign_images;
    signature_padding padding = signature_padding::pkcs1_5;
    /// `signer-name`: omitted when empty, and `signer-version` with it.
    std::string signer_name = "fitstream";
    /// `signer-version`, written with a signer-name; empty: fitstream's version.
    std::string signer_version;
    /// `comment`: omitted when empty.
    std::string comment;
    /// `timestamp`: empty takes the tree's timestamp (omitted if it has none).
    std::optional<std::uint32_t> timestamp;
};

}  // namespace fitstream
