// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// A public key to check signatures with: the public half of a signer's
/// key, a PEM public key (what a signing service hands out), or a key node
/// of U-Boot's control DTB. It checks a signature in U-Boot's encoding
/// (RSA raw, ECDSA r then s) over a digest, with U-Boot's padding rules.

#include <fitstream/detail/io/file.hpp>
#include <fitstream/detail/lib/openssl.hpp>
#include <fitstream/detail/sign/key_node.hpp>
#include <fitstream/error.hpp>
#include <fitstream/sign/algorithm.hpp>
#include <fitstream/sign/spec.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace fitstream {

namespace detail {
// A key file is small by nature: a PEM private key is a few KiB, even
// RSA-16384. Reading at most this much makes `--key /dev/zero` fail
// instead of filling memory.
inline constexpr std::uint64_t max_key_file_size = 1 << 20;
}  // namespace detail

/// A public key, as U-Boot's control DTB holds it under /signature, or
/// taken from a private key.
class public_key {
public:
    /// The public half of `key` (a private key, or a key held in a token:
    /// only its public numbers are read), named `name` in messages. No
    /// private part is kept.
    /// @throws fitstream::error (OpenSSL's) naming `name`.
    static public_key of(const EVP_PKEY* key, const std::string& name) {
        public_key out;
        ERR_clear_error();  // an error queued earlier must not be taken for this one's
        // Round trip through the public encoding: no private part is kept.
        unsigned char* der = nullptr;
        const int len = i2d_PUBKEY(key, &der);
        if (len <= 0) detail::throw_openssl(name, "cannot take the public key");
        const unsigned char* p = der;
        EVP_PKEY* raw = d2i_PUBKEY(nullptr, &p, len);
        OPENSSL_free(der);
        if (!raw) detail::throw_openssl(name, "cannot take the public key");
        out.key_.reset(raw);
        out.rsa_ = EVP_PKEY_is_a(raw, "RSA") == 1;
        if (!out.rsa_ && EVP_PKEY_is_a(raw, "EC") != 1)
            throw error(errc::unsupported, name, "key is neither RSA nor EC");
        out.name_ = name;
        return out;
    }

    /// Reads a PEM public key (or certificate-less SubjectPublicKeyInfo) at
    /// `path`: what a signing service hands out for its key.
    /// @throws fitstream::error naming `path`: the OS error "cannot read
    ///         public key"; errc::invalid_input when it is not a PEM public
    ///         key; errc::unsupported when it is neither RSA nor EC.
    static public_key load(const std::string& path) {
        const std::string pem = detail::read_file_bounded(path, detail::max_key_file_size, "public key",
                                                          detail::stream_inputs::accepted);
        ERR_clear_error();
        detail::bio_ptr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
        detail::evp_pkey_ptr key(bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr);
        if (!key) {
            ERR_clear_error();
            throw error(errc::invalid_input, path, "not a PEM public key");
        }
        return of(key.get(), path);
    }

    /// Reads the key node at `node` of `fdt`, as `mkimage -K` writes it:
    /// rsa,modulus with rsa,num-bits, rsa,n0-inverse, rsa,r-squared and
    /// rsa,exponent (65537 when absent), or ecdsa,curve with ecdsa,x-point
    /// and ecdsa,y-point.
    /// @throws fitstream::error naming `subject`: errc::invalid_input when
    ///         the node holds neither, an ECDSA point is incomplete, or an
    ///         RSA constant is missing or does not belong to the modulus
    ///         (U-Boot would fail every signature with it); OpenSSL's error
    ///         when the numbers make no valid key.
    static public_key from_fdt(const void* fdt, int node, const std::string& subject) {
        public_key out;
        out.name_ = subject;
        auto read = detail::read_key_node(fdt, node, subject);
        out.key_ = std::move(read.key);
        out.rsa_ = read.rsa;
        return out;
    }

    /// What messages name: the key file, token object or DTB node.
    const std::string& name() const noexcept { return name_; }
    /// True for an RSA key, false for ECDSA.
    bool is_rsa() const noexcept { return rsa_; }
    /// The key size in bits.
    unsigned bits() const { return static_cast<unsigned>(EVP_PKEY_get_bits(key_.get())); }
    /// The OpenSSL key, owned by this object.
    EVP_PKEY* get() const noexcept { return key_.get(); }
    /// True when both hold the same public key.
    bool same_as(const public_key& other) const { return EVP_PKEY_eq(key_.get(), other.key_.get()) == 1; }

    /// Checks `signature` (`size` bytes, U-Boot's encoding: see
    /// signing_key::sign_digest()) over `digest`, made with `algo.checksum`.
    /// @returns true when it verifies; false when it does not, or the key
    ///          is not of `algo`'s type and size.
    /// @throws fitstream::error (OpenSSL's) only when OpenSSL cannot be set
    ///         up to check.
    bool verify_digest(const signature_algorithm& algo, signature_padding padding,
                       const std::vector<std::uint8_t>& digest, const std::uint8_t* signature, std::size_t size) const {
        ERR_clear_error();  // an error queued earlier must not be taken for this one's
        if (algo.rsa != rsa_ || size != algo.signature_size) return false;
        if (algo.rsa && bits() != algo.key_bits) return false;
        std::vector<std::uint8_t> encoded(signature, signature + size);
        if (!algo.rsa) {
            // r || s raw, each half the value, to DER for OpenSSL.
            detail::ecdsa_sig_ptr sig(ECDSA_SIG_new());
            BIGNUM* r = BN_bin2bn(signature, static_cast<int>(size / 2), nullptr);
            BIGNUM* s = BN_bin2bn(signature + size / 2, static_cast<int>(size / 2), nullptr);
            if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
                BN_free(r);
                BN_free(s);
                detail::throw_openssl(name_, "cannot build the ECDSA signature");
            }
            unsigned char* der = nullptr;
            const int len = i2d_ECDSA_SIG(sig.get(), &der);
            if (len <= 0) detail::throw_openssl(name_, "cannot encode the ECDSA signature");
            const std::unique_ptr<unsigned char, void (*)(unsigned char*)> owned(
                der, [](unsigned char* p) { OPENSSL_free(p); });
            encoded.assign(der, der + len);
        }
        detail::evp_pkey_ctx_ptr ctx(EVP_PKEY_CTX_new(key_.get(), nullptr));
        if (!ctx || EVP_PKEY_verify_init(ctx.get()) <= 0) detail::throw_openssl(name_, "cannot start verifying");
        detail::setup_signature_ctx(ctx.get(), algo.checksum, algo.rsa, padding == signature_padding::pss, name_);
        const int rc = EVP_PKEY_verify(ctx.get(), encoded.data(), encoded.size(), digest.data(), digest.size());
        ERR_clear_error();
        return rc == 1;
    }

private:
    detail::evp_pkey_ptr key_;
    bool rsa_ = true;
    std::string name_;
};

}  // namespace fitstream
