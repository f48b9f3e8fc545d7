// SPDX-License-Identifier: MIT
#pragma once

// OpenSSL's libcrypto behind RAII: the error category, an EVP digest
// context, and the owners of keys, big numbers and BIOs that signing needs.
// Only this header includes OpenSSL's headers.

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

}  // namespace detail
}  // namespace fitstream
