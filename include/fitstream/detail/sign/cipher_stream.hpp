// SPDX-License-Identifier: MIT
#pragma once

// AES-CBC over a stream of stored bytes, as lib/aes/aes-encrypt.c does it in
// one call (EVP_EncryptUpdate over everything, then EVP_EncryptFinal_ex,
// PKCS#7 padding): CBC is sequential, so chunks in order give the same bytes.

#include <fitstream/detail/lib/openssl.hpp>
#include <fitstream/sign/cipher.hpp>

#include <openssl/evp.h>

#include <algorithm>
#include <cstddef>
#include <memory>

namespace fitstream {
namespace detail {

struct evp_cipher_ctx_deleter {
    void operator()(EVP_CIPHER_CTX* c) const noexcept { EVP_CIPHER_CTX_free(c); }
};

class cipher_stream {
public:
    // The most an update() of `size` bytes writes; final() writes at most
    // one block.
    static constexpr std::size_t output_bound(std::size_t size) { return size + cipher_block_size; }

    cipher_stream(const cipher_key& key, const std::string& subject) : subject_(subject), ctx_(EVP_CIPHER_CTX_new()) {
        if (!ctx_ || EVP_EncryptInit_ex(ctx_.get(), key.evp_cipher(), nullptr, key.key().data(), key.iv().data()) != 1)
            throw_openssl(subject_, "cannot start " + key.algo() + " encryption");
    }

    // Encrypts `size` bytes into `out` (room for output_bound(size)).
    // @returns the bytes written
    std::size_t update(const char* in, std::size_t size, char* out) {
        std::size_t written = 0;
        while (size > 0) {
            const std::size_t n = std::min<std::size_t>(size, 1u << 30);
            int len = 0;
            if (EVP_EncryptUpdate(ctx_.get(), reinterpret_cast<unsigned char*>(out + written), &len,
                                  reinterpret_cast<const unsigned char*>(in), static_cast<int>(n)) != 1)
                throw_openssl(subject_, "encryption failed");
            written += static_cast<std::size_t>(len);
            in += n;
            size -= n;
        }
        return written;
    }

    // The last block, padded. @returns the bytes written (1 to 16)
    std::size_t final(char* out) {
        int len = 0;
        if (EVP_EncryptFinal_ex(ctx_.get(), reinterpret_cast<unsigned char*>(out), &len) != 1)
            throw_openssl(subject_, "encryption failed");
        return static_cast<std::size_t>(len);
    }

private:
    std::string subject_;
    std::unique_ptr<EVP_CIPHER_CTX, evp_cipher_ctx_deleter> ctx_;
};

}  // namespace detail
}  // namespace fitstream
