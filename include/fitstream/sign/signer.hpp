// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// Who makes a signature's `value`: the one interface behind every way a
/// product signs. A PEM key file and a key in a PKCS#11 token are both
/// signing_key (<fitstream/sign/key.hpp>); an external command or service
/// is a command_signer (<fitstream/sign/command_signer.hpp>); a library
/// user's own KMS client derives from signer itself.
///
/// The writer asks for each signature as soon as the images it covers are
/// placed (their digests are in the structure), while later payloads are
/// still being compressed, and before the structure is written or the file
/// committed (the signing stage of the pipeline). It checks each answer
/// against public_half() first: a wrong key or a broken service fails the
/// build, not the boot.
///
/// @code
/// struct my_kms : fitstream::signer {
///     const std::string& name() const override { return name_; }
///     void check_for(const fitstream::signature_algorithm&, fitstream::signature_padding) const override {}
///     std::shared_ptr<const fitstream::public_key> public_half() const override { return pub_; }
///     std::vector<std::uint8_t> sign(const fitstream::signing_request& r) const override {
///         return kms_sign(r.algo.name, r.digest);  // U-Boot's encoding: RSA raw, ECDSA r||s
///     }
///     std::string name_ = "kms:release"; std::shared_ptr<const fitstream::public_key> pub_;
/// };
/// spec.key_signer = std::make_shared<my_kms>();
/// @endcode

#include <fitstream/error.hpp>
#include <fitstream/sign/algorithm.hpp>
#include <fitstream/sign/public_key.hpp>
#include <fitstream/sign/spec.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace fitstream {

/// One signature to make.
struct signing_request {
    /// The signature node: "/configurations/conf-1/signature-1".
    std::string node;
    signature_algorithm algo;
    signature_padding padding = signature_padding::pkcs1_5;
    /// The node's key-name-hint (which key U-Boot checks it with).
    std::string key_name_hint;
    /// `algo.checksum` of the signed bytes: what is signed.
    std::vector<std::uint8_t> digest;
    /// The signed bytes themselves, when the signer wants_message() and the
    /// signature is a configuration's (the structure regions U-Boot hashes,
    /// concatenated, a few KiB). Empty otherwise: an image signature signs
    /// its data, which the writer streams and does not keep.
    std::vector<std::uint8_t> message;
};

/// Makes signature values (see the file comment).
class signer {
public:
    virtual ~signer() = default;

    /// What messages name: a key file, a token URI (never its PIN), a
    /// command. Never key material.
    virtual const std::string& name() const = 0;

    /// Checks, before any work, that this signer can make `algo`'s
    /// signatures with `padding`.
    /// @throws fitstream::error (errc::invalid_argument) naming name().
    virtual void check_for(const signature_algorithm& algo, signature_padding padding) const = 0;

    /// The public key its signatures verify with; null only for a signer
    /// whose values are made later (two-step signing), which the writer
    /// then leaves unchecked.
    virtual std::shared_ptr<const public_key> public_half() const = 0;

    /// The `value` of `request`, in U-Boot's encoding: RSA the raw
    /// signature (algo.signature_size bytes); ECDSA r then s, each half of
    /// algo.signature_size.
    /// @throws fitstream::error naming name() and the node when it fails.
    virtual std::vector<std::uint8_t> sign(const signing_request& request) const = 0;

    /// True when sign() wants request.message, not only the digest.
    virtual bool wants_message() const { return false; }

    /// True when sign() may run on several threads at once; the writer
    /// otherwise makes this signer's signatures one at a time.
    virtual bool concurrent() const { return true; }
};

namespace detail {

/// `key`'s value for `request`, checked before anyone writes it: its size
/// is the algorithm's, and it verifies with the signer's public key (a
/// signature that does not would only fail at boot). Only a value made
/// later (two-step signing, no public key yet) goes unchecked.
/// @throws fitstream::error (errc::bad_image) naming the node and signer;
///         the signer's own errors.
inline std::vector<std::uint8_t> checked_signature(const signer& key, const signing_request& request) {
    auto value = key.sign(request);
    if (value.size() != request.algo.signature_size)
        throw error(errc::bad_image, request.node,
                    key.name() + " gave a " + std::to_string(value.size()) + "-byte signature; " + request.algo.name +
                        " needs " + std::to_string(request.algo.signature_size));
    const auto pub = key.public_half();
    if (pub && !pub->verify_digest(request.algo, request.padding, request.digest, value.data(), value.size()))
        throw error(errc::bad_image, request.node,
                    "the signature from " + key.name() + " does not verify with its public key");
    return value;
}

}  // namespace detail
}  // namespace fitstream
