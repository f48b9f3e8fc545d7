// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// Signing keys (OpenSSL's libcrypto): private keys to sign with, where a
/// signature's key file is found, and public keys to check with, taken from
/// a private key or from U-Boot's control DTB. Which bytes a signature
/// covers is U-Boot's rule, ported in detail/sign/regions.hpp.
///
/// @code
/// auto key = fitstream::signing_key::load("keys/dev.key");
/// key->check_for(fitstream::parse_signature_algorithm("sha256,rsa2048"), fitstream::signature_padding::pkcs1_5);
/// @endcode
///
/// Key material never appears in a message: errors name the file or node.

#include <fitstream/detail/io/file.hpp>
#include <fitstream/detail/lib/openssl.hpp>
#include <fitstream/detail/sign/key_node.hpp>
#include <fitstream/detail/sign/regions.hpp>
#include <fitstream/detail/text.hpp>
#include <fitstream/error.hpp>
#include <fitstream/sign/algorithm.hpp>
#include <fitstream/sign/spec.hpp>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace fitstream {

namespace detail {

// A key file is small by nature: a PEM private key is a few KiB, even
// RSA-16384. Reading at most this much makes `--key /dev/zero` fail
// instead of filling memory.
inline constexpr std::uint64_t max_key_file_size = 1 << 20;

// Throws errc::invalid_argument unless `name` can be a key name: U-Boot
// looks the key up as the node /signature/key-<name>, so it must be a
// devicetree node-name part (letters, digits, , . _ + -; no '/' or '@').
inline void check_key_name(const std::string& name, const std::string& subject) {
    const bool ok = !name.empty() && bad_node_name_char(name) == std::string::npos;
    if (!ok)
        throw error(errc::invalid_argument, subject,
                    "key name '" + name + "' is not a devicetree node name part (A-Z a-z 0-9 , . _ + -)");
}

// The digest, with a signature's `checksum`, of the concatenated `regions`
// of `base` (what a configuration signature signs).
inline std::vector<std::uint8_t> digest_regions(const std::string& checksum, const char* base,
                                                const std::vector<byte_region>& regions) {
    ERR_clear_error();  // an error queued earlier must not be taken for this one's
    evp_md_ctx_ptr ctx(EVP_MD_CTX_new());
    const EVP_MD* md = checksum_md(checksum);
    if (!ctx || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1) throw_openssl("cannot start digest");
    for (const auto& r : regions)
        if (r.size && EVP_DigestUpdate(ctx.get(), base + r.offset, r.size) != 1) throw_openssl("digest update failed");
    std::vector<std::uint8_t> out(static_cast<std::size_t>(EVP_MD_get_size(md)));
    unsigned n = 0;
    if (EVP_DigestFinal_ex(ctx.get(), out.data(), &n) != 1) throw_openssl("digest final failed");
    out.resize(n);
    return out;
}

}  // namespace detail

/// A private key to sign with, read from a PEM file (RSA or EC; not
/// password-protected, since signing runs unattended).
class signing_key {
public:
    /// Reads the PEM private key at `path` (a regular file or a pipe, at
    /// most 1 MiB; the bytes read are wiped once parsed).
    /// @returns the key, shared: one key file may sign many nodes.
    /// @throws fitstream::error, naming `path` only: the OS error "cannot
    ///         read key"; errc::invalid_input "larger than 1048576 bytes:
    ///         not a key", or when it is not an unencrypted PEM private key;
    ///         errc::unsupported when it is neither RSA nor EC.
    static std::shared_ptr<const signing_key> load(const std::string& path) {
        std::string pem = detail::read_file_bounded(path, detail::max_key_file_size, "key",
                                                    detail::stream_inputs::accepted, /*sensitive=*/true);
        ERR_clear_error();  // an error queued earlier must not be taken for this one's
        detail::bio_ptr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
        // No passphrase prompt: a protected key fails instead of waiting on a terminal.
        const auto no_passphrase = [](char*, int, int, void*) -> int { return 0; };
        detail::evp_pkey_ptr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr) : nullptr);
        OPENSSL_cleanse(pem.data(), pem.size());
        if (!key) {
            ERR_clear_error();
            throw error(errc::invalid_input, path,
                        "not a PEM private key (or protected by a passphrase, which fitstream does not prompt for)");
        }
        auto out = std::shared_ptr<signing_key>(new signing_key(path, std::move(key)));
        if (!out->is_rsa() && !out->is_ec())
            throw error(errc::unsupported, path, "key is neither RSA nor EC");
        return out;
    }

    /// The file the key was read from (what messages name).
    const std::string& path() const noexcept { return path_; }
    /// True for an RSA key.
    bool is_rsa() const { return EVP_PKEY_is_a(key_.get(), "RSA") == 1; }
    /// True for an EC key.
    bool is_ec() const { return EVP_PKEY_is_a(key_.get(), "EC") == 1; }
    /// The key size in bits: RSA's modulus, EC's curve.
    unsigned bits() const { return static_cast<unsigned>(EVP_PKEY_get_bits(key_.get())); }
    /// EC: the curve's short name ("prime256v1"); empty for RSA.
    /// @throws fitstream::error (OpenSSL's) when OpenSSL cannot say.
    std::string curve() const {
        if (!is_ec()) return {};
        char name[80] = {};
        std::size_t len = 0;
        if (EVP_PKEY_get_utf8_string_param(key_.get(), OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name, &len) != 1)
            detail::throw_openssl(path_, "cannot read the key's curve");
        return name;
    }
    /// "RSA-2048", "EC prime256v1": what the key is, for messages.
    std::string describe() const { return is_rsa() ? "RSA-" + std::to_string(bits()) : "EC " + curve(); }

    /// Checks that this key can make `algo`'s signatures with `padding`.
    /// @throws fitstream::error (errc::invalid_argument): the key's type or
    ///         size is not `algo`'s ("key is RSA-2048, but sha256,rsa4096
    ///         needs RSA-4096"), or PSS padding with an ECDSA algo.
    void check_for(const signature_algorithm& algo, signature_padding padding) const {
        const bool fits = algo.rsa ? is_rsa() && bits() == algo.key_bits : is_ec() && curve() == algo.curve;
        if (!fits)
            throw error(errc::invalid_argument, path_,
                        "key is " + describe() + ", but " + algo.name + " needs " +
                            (algo.rsa ? "RSA-" + std::to_string(algo.key_bits) : "EC " + algo.curve));
        if (!algo.rsa && padding == signature_padding::pss)
            throw error(errc::invalid_argument, algo.name, "PSS padding applies to RSA only");
    }

    /// Signs `digest` (made with `algo.checksum`).
    /// @returns the `value` as U-Boot expects it: RSA the raw signature,
    ///          ECDSA r then s, each padded to the curve's size.
    /// @throws fitstream::error: as check_for(); OpenSSL's error, naming the
    ///         key file, when signing fails.
    std::vector<std::uint8_t> sign_digest(const signature_algorithm& algo, signature_padding padding,
                                          const std::vector<std::uint8_t>& digest) const {
        check_for(algo, padding);
        ERR_clear_error();  // an error queued earlier must not be taken for this one's
        detail::evp_pkey_ctx_ptr ctx(EVP_PKEY_CTX_new(key_.get(), nullptr));
        if (!ctx || EVP_PKEY_sign_init(ctx.get()) <= 0) detail::throw_openssl(path_, "cannot start signing");
        detail::setup_signature_ctx(ctx.get(), algo.checksum, algo.rsa, padding == signature_padding::pss, path_);
        std::size_t size = 0;
        if (EVP_PKEY_sign(ctx.get(), nullptr, &size, digest.data(), digest.size()) <= 0)
            detail::throw_openssl(path_, "cannot sign");
        std::vector<std::uint8_t> sig(size);
        if (EVP_PKEY_sign(ctx.get(), sig.data(), &size, digest.data(), digest.size()) <= 0)
            detail::throw_openssl(path_, "cannot sign");
        sig.resize(size);
        if (algo.rsa) {
            if (sig.size() != algo.signature_size)
                throw error(errc::invalid_argument, path_, "signature has an unexpected size");
            return sig;
        }
        // OpenSSL gives DER; U-Boot stores r and s raw, each the key's size.
        const unsigned char* p = sig.data();
        detail::ecdsa_sig_ptr parsed(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size())));
        if (!parsed) detail::throw_openssl(path_, "cannot decode the ECDSA signature");
        const BIGNUM *r = nullptr, *s = nullptr;
        ECDSA_SIG_get0(parsed.get(), &r, &s);
        auto out = detail::bn_bytes(r, algo.signature_size / 2, path_);
        const auto s_bytes = detail::bn_bytes(s, algo.signature_size / 2, path_);
        out.insert(out.end(), s_bytes.begin(), s_bytes.end());
        return out;
    }

    /// The OpenSSL key, owned by this object.
    EVP_PKEY* get() const noexcept { return key_.get(); }

private:
    signing_key(std::string path, detail::evp_pkey_ptr key) : path_(std::move(path)), key_(std::move(key)) {}
    std::string path_;
    detail::evp_pkey_ptr key_;
};

/// Checks a key-name-hint before it is used (to find `<hint>.key` in a key
/// directory, or as /signature/key-<hint> in U-Boot's control DTB).
/// @throws fitstream::error (errc::invalid_argument, subject `subject`)
///         unless `name` is a devicetree node-name part (A-Z a-z 0-9 , . _ + -).
inline void check_key_name_hint(const std::string& name, const std::string& subject) {
    detail::check_key_name(name, subject);
}

/// The key file of the signature `spec` (in a message, `subject`).
/// @returns `key_file`, else `key_dir`/<hint>.key (for ECDSA
///          `key_dir`/<hint>.pem when it exists, as mkimage reads). The file
///          is not opened.
/// @throws fitstream::error (errc::invalid_argument) when neither is given,
///         or `key_dir` is given without a `key_name_hint`.
inline std::string signature_key_path(const signature_spec& spec, const std::string& subject) {
    if (!spec.key_file.empty()) return spec.key_file;
    if (spec.key_dir.empty())
        throw error(errc::invalid_argument, subject, "no key: give a key file, or a key directory and key-name-hint");
    if (spec.key_name_hint.empty())
        throw error(errc::invalid_argument, subject, "a key directory needs a key-name-hint to find <hint>.key");
    // mkimage -k reads <hint>.key for RSA but <hint>.pem for ECDSA.
    const std::string base = spec.key_dir + "/" + spec.key_name_hint;
    if (spec.algo.find("ecdsa") != std::string::npos && std::ifstream(base + ".pem").good()) return base + ".pem";
    return base + ".key";
}

/// A public key, as U-Boot's control DTB holds it under /signature, or
/// taken from a private key.
class public_key {
public:
    /// The public half of `key` (no private part is kept).
    /// @throws fitstream::error (OpenSSL's) naming the key file.
    static public_key of(const signing_key& key) {
        public_key out;
        ERR_clear_error();  // an error queued earlier must not be taken for this one's
        EVP_PKEY* raw = nullptr;
        // Round trip through the public encoding: no private part is kept.
        unsigned char* der = nullptr;
        const int len = i2d_PUBKEY(key.get(), &der);
        if (len <= 0) detail::throw_openssl(key.path(), "cannot take the public key");
        const unsigned char* p = der;
        raw = d2i_PUBKEY(nullptr, &p, len);
        OPENSSL_free(der);
        if (!raw) detail::throw_openssl(key.path(), "cannot take the public key");
        out.key_.reset(raw);
        out.rsa_ = key.is_rsa();
        out.name_ = key.path();
        return out;
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
