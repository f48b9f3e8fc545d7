// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// The `algo` and `padding` values of a FIT signature node, as U-Boot's
/// mkimage writes them and its verified boot reads them: which checksums
/// and which crypto, what size a signature `value` has. Plain parsing, no
/// OpenSSL: the keys are in <fitstream/sign/key.hpp>.

#include <fitstream/error.hpp>
#include <fitstream/sign/spec.hpp>

#include <cstddef>
#include <string>

namespace fitstream {

/// A parsed `algo` value, e.g. "sha256,rsa2048".
struct signature_algorithm {
    std::string name;      ///< the whole value
    std::string checksum;  ///< "sha1", "sha256", "sha384" or "sha512"
    std::string crypto;    ///< "rsa2048", "rsa3072", "rsa4096", "ecdsa256" or "ecdsa384"
    bool rsa = true;       ///< false: ECDSA
    unsigned key_bits = 0;
    std::size_t signature_size = 0;  ///< bytes of `value`: the modulus, or r and s raw
    std::string curve;               ///< ECDSA: "prime256v1" or "secp384r1"
};

/// The `algo` values fitstream signs with, for messages and help text:
/// "sha1|sha256|sha384|sha512 , rsa2048|... (e.g. sha256,rsa2048)".
inline std::string signature_algorithm_names() {
    return "sha1|sha256|sha384|sha512 , rsa2048|rsa3072|rsa4096|ecdsa256|ecdsa384 (e.g. sha256,rsa2048)";
}

/// Parses `algo`, "<checksum>,<crypto>".
/// @returns the checksum and crypto parts, the key size and the size of a
///          signature `value` (and the curve, for ECDSA).
/// @throws fitstream::error (errc::unsupported), subject `algo`, naming the
///         valid values, when either part is not one listed in
///         signature_algorithm_names().
inline signature_algorithm parse_signature_algorithm(const std::string& algo) {
    signature_algorithm a;
    a.name = algo;
    const auto comma = algo.find(',');
    const auto bad = [&] {
        return error(errc::unsupported, algo, "unknown signature algorithm (valid: " + signature_algorithm_names() + ")");
    };
    if (comma == std::string::npos) throw bad();
    a.checksum = algo.substr(0, comma);
    a.crypto = algo.substr(comma + 1);
    if (a.checksum != "sha1" && a.checksum != "sha256" && a.checksum != "sha384" && a.checksum != "sha512") throw bad();
    if (a.crypto == "rsa2048" || a.crypto == "rsa3072" || a.crypto == "rsa4096") {
        a.key_bits = static_cast<unsigned>(std::stoul(a.crypto.substr(3)));
        a.signature_size = a.key_bits / 8;
    } else if (a.crypto == "ecdsa256" || a.crypto == "ecdsa384") {
        a.rsa = false;
        a.key_bits = a.crypto == "ecdsa256" ? 256 : 384;
        a.signature_size = 2 * a.key_bits / 8;
        a.curve = a.key_bits == 256 ? "prime256v1" : "secp384r1";
    } else {
        throw bad();
    }
    return a;
}

/// The `padding` property's value for `p`: "pss", or nullptr for PKCS#1
/// v1.5, U-Boot's default, for which mkimage omits the property.
inline const char* padding_name(signature_padding p) noexcept {
    return p == signature_padding::pss ? "pss" : nullptr;
}

}  // namespace fitstream
