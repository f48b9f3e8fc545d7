// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `md5`, `sha1`, `sha256`, `sha384`, `sha512` through OpenSSL's libcrypto.

#include <fitstream/detail/lib/openssl.hpp>
#include <fitstream/hash/concept.hpp>

namespace fitstream {
namespace detail {
/// One OpenSSL-backed FIT hash: `Name` is the FIT algo, `Md` the EVP getter.
/// The constructor, update() and final() throw fitstream::error
/// (openssl_category()) when libcrypto fails.
template <const char* Name, std::size_t Size, const EVP_MD* (*Md)()>
class evp_hash {
public:
    static constexpr std::string_view fit_name = Name;
    static constexpr std::size_t digest_size = Size;

    evp_hash() : digest_(Md()) {}
    /// Adds [data, data + size) to the digest.
    void update(const void* data, std::size_t size) { digest_.update(data, size); }
    /// @returns the digest of everything added; the hash is spent.
    std::array<std::uint8_t, digest_size> final() { return digest_.final(); }

private:
    evp_digest<Size> digest_;
};

inline constexpr char md5_name[] = "md5";
inline constexpr char sha1_name[] = "sha1";
inline constexpr char sha256_name[] = "sha256";
inline constexpr char sha384_name[] = "sha384";
inline constexpr char sha512_name[] = "sha512";
}  // namespace detail

namespace hash {

using md5 = detail::evp_hash<detail::md5_name, 16, EVP_md5>;           ///< FIT `algo = "md5"`
using sha1 = detail::evp_hash<detail::sha1_name, 20, EVP_sha1>;        ///< FIT `algo = "sha1"`
using sha256 = detail::evp_hash<detail::sha256_name, 32, EVP_sha256>;  ///< FIT `algo = "sha256"`
using sha384 = detail::evp_hash<detail::sha384_name, 48, EVP_sha384>;  ///< FIT `algo = "sha384"`
using sha512 = detail::evp_hash<detail::sha512_name, 64, EVP_sha512>;  ///< FIT `algo = "sha512"`

static_assert(check_hash<md5>() && check_hash<sha1>() && check_hash<sha256>() && check_hash<sha384>() &&
              check_hash<sha512>());

}  // namespace hash
}  // namespace fitstream
