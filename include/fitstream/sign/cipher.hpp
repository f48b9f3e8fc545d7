// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// Encrypted images, as `mkimage -k KEYDIR` writes them (tools/image-host.c,
/// lib/aes/aes-encrypt.c): an image's stored bytes (after compression) are
/// encrypted with AES in CBC mode, PKCS#7 padding (OpenSSL's default: 1 to 16
/// bytes, so the stored data grows to the next multiple of 16), and the
/// image node gets
///
///     data-size-unciphered = <the size before encryption>;
///     cipher { algo = "aes256"; key-name-hint = "NAME"; iv-name-hint = "IV"; };
///
/// Hash nodes (and image signatures) cover the **encrypted** bytes: mkimage
/// encrypts first (fit_cipher_data) and hashes after; U-Boot checks the hash,
/// then decrypts (boot/image-fit.c, fit_image_uncipher) with the key from its
/// control DTB, `/cipher/key-<algo>-<key-name>[-<iv-name>]` (`key`,
/// `key-len`, and `iv` when the IV is named), and truncates to
/// data-size-unciphered. A configuration signature covers the `cipher` node
/// too (it is listed in `hashed-nodes` after the image's hash nodes).
///
/// Keys and IVs are raw files, `KEYDIR/<name>.bin`, exactly the key's size
/// (16, 24, 32 bytes) and 16 bytes. Without `iv-name-hint`, a random IV
/// (from OpenSSL's RAND_bytes; mkimage seeds random() with the clock) is
/// stored as `iv` in the cipher node. mkimage writes that `iv` only when it
/// is given -K, so without -K its output cannot be decrypted; fitstream
/// always writes it.
///
/// U-Boot decrypts only with CONFIG_FIT_CIPHER (upstream since v2020.01,
/// enabled in sandbox_defconfig); Debian 12's U-Boot 2023.01 builds lack it.
///
/// @code
/// fitstream::cipher_spec spec{"aes256", "aeskey", "aesiv", "keys"};
/// kernel.encrypt_with(spec);   // reads keys/aeskey.bin and keys/aesiv.bin now
/// @endcode

#include <fitstream/detail/io/file.hpp>
#include <fitstream/detail/lib/openssl.hpp>
#include <fitstream/error.hpp>
#include <fitstream/sign/key.hpp>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace fitstream {

/// The AES block size, and the size of every IV.
inline constexpr std::size_t cipher_block_size = 16;

/// What a `cipher` node says.
struct cipher_spec {
    std::string algo;           ///< "aes128", "aes192" or "aes256" (CBC)
    std::string key_name_hint;  ///< the key is `key_dir`/<key_name_hint>.bin
    /// The IV is `key_dir`/<iv_name_hint>.bin; empty: a random IV, stored in
    /// the cipher node as `iv`.
    std::string iv_name_hint;
    std::string key_dir;  ///< where the .bin files are
};

/// The key size of `algo` in bytes; 0 when it is not aes128, aes192 or aes256.
inline std::size_t cipher_key_size(const std::string& algo) noexcept {
    if (algo == "aes128") return 16;
    if (algo == "aes192") return 24;
    if (algo == "aes256") return 32;
    return 0;
}

/// A cipher_spec with its key and IV read: what an image is encrypted with.
/// The key bytes are wiped when it is destroyed; no message ever shows them.
class cipher_key {
public:
    /// Reads the key (and the IV, or makes a random one) `spec` names.
    /// @param subject what messages name besides the file (a node path)
    /// @throws fitstream::error: errc::unsupported for an algo other than
    ///         aes128/aes192/aes256; errc::invalid_argument for a key or IV
    ///         name that cannot be a node name part, or no key_dir;
    ///         the OS error naming the file when a .bin cannot be read;
    ///         errc::invalid_input naming the file when it is not exactly
    ///         the key's (or the IV's) size.
    static std::shared_ptr<const cipher_key> load(const cipher_spec& spec, const std::string& subject) {
        const std::size_t size = cipher_key_size(spec.algo);
        if (size == 0)
            throw error(errc::unsupported, subject,
                        "cipher algo \"" + spec.algo + "\" is not aes128, aes192 or aes256");
        detail::check_key_name(spec.key_name_hint, subject);
        if (!spec.iv_name_hint.empty()) detail::check_key_name(spec.iv_name_hint, subject);
        if (spec.key_dir.empty())
            throw error(errc::invalid_argument, subject, "an encrypted image needs a key directory (-k KEYDIR)");
        std::shared_ptr<cipher_key> k(new cipher_key);
        k->spec_ = spec;
        k->spec_.key_dir.clear();
        k->key_ = read_exact(spec.key_dir + "/" + spec.key_name_hint + ".bin", size, spec.algo + " key");
        if (!spec.iv_name_hint.empty()) {
            k->iv_ = read_exact(spec.key_dir + "/" + spec.iv_name_hint + ".bin", cipher_block_size, "IV");
        } else {
            k->iv_.resize(cipher_block_size);
            if (RAND_bytes(k->iv_.data(), static_cast<int>(cipher_block_size)) != 1)
                detail::throw_openssl(subject, "cannot make a random IV");
        }
        return k;
    }

    cipher_key(const cipher_key&) = delete;
    cipher_key& operator=(const cipher_key&) = delete;
    ~cipher_key() {
        if (!key_.empty()) OPENSSL_cleanse(key_.data(), key_.size());
    }

    const std::string& algo() const noexcept { return spec_.algo; }
    const std::string& key_name_hint() const noexcept { return spec_.key_name_hint; }
    const std::string& iv_name_hint() const noexcept { return spec_.iv_name_hint; }
    const std::vector<std::uint8_t>& key() const noexcept { return key_; }
    const std::vector<std::uint8_t>& iv() const noexcept { return iv_; }
    /// True when the IV goes into the FIT's cipher node (no iv_name_hint);
    /// else into the control DTB beside the key.
    bool iv_in_fit() const noexcept { return spec_.iv_name_hint.empty(); }
    /// The node U-Boot looks the key up by under /cipher.
    std::string dtb_node_name() const {
        return "key-" + spec_.algo + "-" + spec_.key_name_hint +
               (spec_.iv_name_hint.empty() ? std::string() : "-" + spec_.iv_name_hint);
    }
    /// OpenSSL's cipher for algo().
    const EVP_CIPHER* evp_cipher() const noexcept {
        return key_.size() == 16 ? EVP_aes_128_cbc() : key_.size() == 24 ? EVP_aes_192_cbc() : EVP_aes_256_cbc();
    }

private:
    cipher_key() = default;

    static std::vector<std::uint8_t> read_exact(const std::string& path, std::size_t size, const std::string& what) {
        std::string bytes = detail::read_file_bounded(path, 4096, what, detail::stream_inputs::refused, true);
        std::vector<std::uint8_t> out(bytes.begin(), bytes.end());
        OPENSSL_cleanse(bytes.data(), bytes.size());
        if (out.size() != size) {
            const std::size_t got = out.size();
            if (!out.empty()) OPENSSL_cleanse(out.data(), out.size());
            throw error(errc::invalid_input, path,
                        what + " must be exactly " + std::to_string(size) + " bytes, the file has " +
                            std::to_string(got));
        }
        return out;
    }

    cipher_spec spec_;
    std::vector<std::uint8_t> key_;
    std::vector<std::uint8_t> iv_;
};

}  // namespace fitstream
