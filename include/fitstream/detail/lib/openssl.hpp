// SPDX-License-Identifier: MIT
#pragma once

// OpenSSL's libcrypto behind RAII: the error category, an EVP digest
// context, the owners of keys, big numbers and BIOs that signing needs, and
// the set-up of a signing or verifying context as U-Boot's lib/rsa and
// lib/ecdsa expect. Only this header includes OpenSSL's headers.

#include <fitstream/error.hpp>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/ec.h>
#include <openssl/rsa.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace fitstream {

namespace detail {
struct openssl_traits {
    static constexpr const char* name = "openssl";
    static std::string message(int ev) {
        char text[256] = {};
        ERR_error_string_n(static_cast<unsigned long>(ev), text, sizeof text);
        return text[0] ? text : "OpenSSL error";
    }
};
}  // namespace detail

/// Errors reported by OpenSSL (codes from ERR_get_error()).
inline const std::error_category& openssl_category() noexcept {
    static const detail::library_category_impl<detail::openssl_traits> instance;
    return instance;
}

namespace detail {

[[noreturn]] inline void throw_openssl(const char* what) {
    const unsigned long code = ERR_get_error();
    ERR_clear_error();
    throw error(std::error_code(static_cast<int>(code), openssl_category()), "openssl", what);
}

/// Throws OpenSSL's first queued error about `subject` (a key file, a
/// node). OpenSSL's texts name the failing step, never key material.
[[noreturn]] inline void throw_openssl(std::string subject, std::string what) {
    // The first error is the cause; later ones only say where it surfaced.
    const unsigned long code = ERR_peek_error();
    ERR_clear_error();
    if (code == 0) throw error(errc::invalid_input, std::move(subject), std::move(what));
    throw error(std::error_code(static_cast<int>(code), openssl_category()), std::move(subject), std::move(what));
}

struct evp_pkey_deleter {
    void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
struct evp_pkey_ctx_deleter {
    void operator()(EVP_PKEY_CTX* p) const noexcept { EVP_PKEY_CTX_free(p); }
};
struct bignum_deleter {
    void operator()(BIGNUM* p) const noexcept { BN_clear_free(p); }
};
struct bn_ctx_deleter {
    void operator()(BN_CTX* p) const noexcept { BN_CTX_free(p); }
};
struct bio_deleter {
    void operator()(BIO* p) const noexcept { BIO_free(p); }
};
struct param_bld_deleter {
    void operator()(OSSL_PARAM_BLD* p) const noexcept { OSSL_PARAM_BLD_free(p); }
};
struct params_deleter {
    void operator()(OSSL_PARAM* p) const noexcept { OSSL_PARAM_free(p); }
};
struct ecdsa_sig_deleter {
    void operator()(ECDSA_SIG* p) const noexcept { ECDSA_SIG_free(p); }
};

using evp_pkey_ptr = std::unique_ptr<EVP_PKEY, evp_pkey_deleter>;
using evp_pkey_ctx_ptr = std::unique_ptr<EVP_PKEY_CTX, evp_pkey_ctx_deleter>;
using bignum_ptr = std::unique_ptr<BIGNUM, bignum_deleter>;
using bn_ctx_ptr = std::unique_ptr<BN_CTX, bn_ctx_deleter>;
using bio_ptr = std::unique_ptr<BIO, bio_deleter>;
using param_bld_ptr = std::unique_ptr<OSSL_PARAM_BLD, param_bld_deleter>;
using params_ptr = std::unique_ptr<OSSL_PARAM, params_deleter>;
using ecdsa_sig_ptr = std::unique_ptr<ECDSA_SIG, ecdsa_sig_deleter>;

struct evp_md_ctx_deleter {
    void operator()(EVP_MD_CTX* p) const noexcept { EVP_MD_CTX_free(p); }
};
using evp_md_ctx_ptr = std::unique_ptr<EVP_MD_CTX, evp_md_ctx_deleter>;

/// A running EVP digest of a fixed algorithm with a compile-time size.
template <std::size_t DigestSize>
class evp_digest {
public:
    explicit evp_digest(const EVP_MD* md) : ctx_(EVP_MD_CTX_new()) {
        if (!ctx_ || !md) throw_openssl("cannot create digest");
        if (EVP_MD_size(md) != static_cast<int>(DigestSize)) throw_openssl("unexpected digest size");
        if (EVP_DigestInit_ex(ctx_.get(), md, nullptr) != 1) throw_openssl("cannot start digest");
    }
    void update(const void* data, std::size_t size) {
        if (size > 0 && EVP_DigestUpdate(ctx_.get(), data, size) != 1) throw_openssl("digest update failed");
    }
    std::array<std::uint8_t, DigestSize> final() {
        std::array<std::uint8_t, DigestSize> out{};
        unsigned int n = 0;
        if (EVP_DigestFinal_ex(ctx_.get(), out.data(), &n) != 1 || n != DigestSize)
            throw_openssl("digest final failed");
        return out;
    }

private:
    std::unique_ptr<EVP_MD_CTX, evp_md_ctx_deleter> ctx_;
};

// The EVP digest of a signature `algo`'s checksum part.
inline const EVP_MD* checksum_md(const std::string& checksum) {
    if (checksum == "sha1") return EVP_sha1();
    if (checksum == "sha256") return EVP_sha256();
    if (checksum == "sha384") return EVP_sha384();
    if (checksum == "sha512") return EVP_sha512();
    throw error(errc::unsupported, checksum, "unknown signature checksum");
}

// Sets up `ctx` (from EVP_PKEY_sign_init or EVP_PKEY_verify_init) for a
// signature of a `checksum` digest, RSA (with PSS or PKCS#1 v1.5 padding)
// or ECDSA, as U-Boot's lib/rsa and lib/ecdsa sign and check. Plain
// parameters rather than a signature_algorithm: this adapter knows OpenSSL,
// not FIT signature nodes.
inline void setup_signature_ctx(EVP_PKEY_CTX* ctx, const std::string& checksum, bool rsa, bool pss,
                                const std::string& subject) {
    if (EVP_PKEY_CTX_set_signature_md(ctx, checksum_md(checksum)) <= 0)
        throw_openssl(subject, "cannot set the signature digest");
    if (!rsa) return;
    if (pss) {
        // U-Boot's padding_pss_verify() (lib/rsa/rsa-verify.c) does not
        // recover the salt length: it takes the salt as everything between
        // the 0x01 separator and the hash, i.e. the maximum length
        // (key bytes - hash bytes - 2). A signature with a shorter salt
        // fails there, so it fails here too, and signing uses the maximum.
        if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
            EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_MAX) <= 0)
            throw_openssl(subject, "cannot set PSS padding");
    } else if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0) {
        throw_openssl(subject, "cannot set PKCS#1 v1.5 padding");
    }
}

// Big-endian bytes of `n`, left-padded to `size`: how U-Boot stores key
// numbers and ECDSA's r and s.
inline std::vector<std::uint8_t> bn_bytes(const BIGNUM* n, std::size_t size, const std::string& subject) {
    std::vector<std::uint8_t> out(size);
    if (BN_bn2binpad(n, out.data(), static_cast<int>(size)) < 0)
        throw error(errc::invalid_input, subject, "number does not fit " + std::to_string(size) + " bytes");
    return out;
}

}  // namespace detail
}  // namespace fitstream
