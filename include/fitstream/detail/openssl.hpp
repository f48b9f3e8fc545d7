// SPDX-License-Identifier: MIT
#pragma once

// OpenSSL's libcrypto behind RAII: the error category and an EVP digest
// context. Only this header includes OpenSSL's headers.

#include <fitstream/error.hpp>

#include <openssl/err.h>
#include <openssl/evp.h>

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

struct evp_md_ctx_deleter {
    void operator()(EVP_MD_CTX* p) const noexcept { EVP_MD_CTX_free(p); }
};

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
