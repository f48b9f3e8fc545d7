// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// Signing keys (OpenSSL's libcrypto): private keys to sign with, held in a
/// PEM file or a PKCS#11 token, and where a signature's key file is found.
/// Public keys are in <fitstream/sign/public_key.hpp>; which bytes a
/// signature covers is U-Boot's rule, ported in detail/sign/regions.hpp.
///
/// @code
/// auto key = fitstream::signing_key::load("keys/dev.key");
/// auto hsm = fitstream::signing_key::load("pkcs11:token=release;object=fit");  // PIN: $FITPACK_PKCS11_PIN
/// key->check_for(fitstream::parse_signature_algorithm("sha256,rsa2048"), fitstream::signature_padding::pkcs1_5);
/// @endcode
///
/// Key material never appears in a message: errors name the file or node.

#include <fitstream/detail/io/file.hpp>
#include <fitstream/detail/lib/openssl.hpp>
#include <fitstream/detail/lib/pkcs11.hpp>
#include <fitstream/detail/sign/key_node.hpp>
#include <fitstream/detail/sign/regions.hpp>
#include <fitstream/detail/text.hpp>
#include <fitstream/error.hpp>
#include <fitstream/sign/algorithm.hpp>
#include <fitstream/sign/public_key.hpp>
#include <fitstream/sign/signer.hpp>
#include <fitstream/sign/spec.hpp>
#include <fitstream/sign/token.hpp>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace fitstream {

namespace detail {

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

/// A private key to sign with: read from a PEM file (RSA or EC; not
/// password-protected, since signing runs unattended), or held in a
/// PKCS#11 token (<fitstream/sign/token.hpp>), where it signs without ever
/// leaving it.
class signing_key : public signer {
public:
    /// Reads the PEM private key at `path` (a regular file or a pipe, at
    /// most 1 MiB; the bytes read are wiped once parsed). A `path` starting
    /// with "pkcs11:" is a token key: load_token(path, default_token_options()).
    /// @returns the key, shared: one key file may sign many nodes.
    /// @throws fitstream::error, naming `path` only: the OS error "cannot
    ///         read key"; errc::invalid_input "larger than 1048576 bytes:
    ///         not a key", or when it is not an unencrypted PEM private key;
    ///         errc::unsupported when it is neither RSA nor EC; as
    ///         load_token() for a URI.
    static std::shared_ptr<const signing_key> load(const std::string& path) {
        if (is_token_uri(path)) return load_token(path, default_token_options());
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

    /// Opens the private key a PKCS#11 URI names ("pkcs11:token=T;object=O",
    /// RFC 7512), through OpenSSL's pkcs11 engine, logging in with the PIN
    /// `options` gives (else none). The key stays in the token: signatures
    /// are made there, one at a time (concurrent() is false), and only the
    /// public key is read out (public_half()).
    /// @returns the key; name() and path() are the URI without its query.
    /// @throws fitstream::error naming that URI, never a PIN:
    ///         errc::invalid_argument for a URI with a PIN in it or another
    ///         parse_token_uri() refusal; errc::unsupported when the engine
    ///         is not installed; errc::invalid_input when the module cannot
    ///         be loaded, the token or object is not found, the PIN is wrong
    ///         or missing, or the key is neither RSA nor EC; the OS error
    ///         naming the PIN file when it cannot be read.
    static std::shared_ptr<const signing_key> load_token(const std::string& uri, const token_options& options = {}) {
        const token_uri parsed = parse_token_uri(uri);
        detail::token_key_request request;
        request.uri = parsed.path;
        request.module = detail::token_module(parsed, options);
        request.subject = parsed.path;
        const detail::secret_string pin(detail::token_pin(parsed, options));
        request.pin = pin.get();
        if (pin.get().empty())
            request.without_pin = "no PIN was given (a PIN file, or $" +
                                  (options.pin_env.empty() ? std::string("FITPACK_PKCS11_PIN") : options.pin_env) + ")";
        detail::token_key_handle handle;
        try {
            handle = detail::open_token_key(request);
        } catch (...) {
            wipe(request.pin);
            throw;
        }
        wipe(request.pin);
        auto out = std::shared_ptr<signing_key>(new signing_key(parsed.path, std::move(handle.key)));
        out->session_ = std::move(handle.session);
        if (!out->is_rsa() && !out->is_ec())
            throw error(errc::invalid_input, parsed.path, "the token key is neither RSA nor EC");
        return out;
    }

    /// The file the key was read from, or the token URI (what messages name).
    const std::string& path() const noexcept { return path_; }
    /// signer: the key file or token URI, what messages name.
    const std::string& name() const override { return path_; }
    /// True for a key held in a PKCS#11 token.
    bool in_token() const noexcept { return session_ != nullptr; }
    /// signer: a token signs one request at a time.
    bool concurrent() const override { return !in_token(); }
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
    void check_for(const signature_algorithm& algo, signature_padding padding) const override {
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
        // A token's session serves one operation at a time.
        std::unique_lock<std::mutex> token_lock;
        if (in_token()) token_lock = std::unique_lock<std::mutex>(token_mutex());
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

    /// signer: sign_digest() of the request's digest.
    std::vector<std::uint8_t> sign(const signing_request& request) const override {
        return sign_digest(request.algo, request.padding, request.digest);
    }

    /// signer: the key's public half, taken once.
    std::shared_ptr<const public_key> public_half() const override {
        std::call_once(public_once_,
                       [&] { public_ = std::make_shared<const public_key>(public_key::of(key_.get(), path_)); });
        return public_;
    }

    /// The OpenSSL key, owned by this object.
    EVP_PKEY* get() const noexcept { return key_.get(); }

private:
    signing_key(std::string path, detail::evp_pkey_ptr key) : path_(std::move(path)), key_(std::move(key)) {}
    static void wipe(std::string& s) {
        OPENSSL_cleanse(s.data(), s.size());
        s.clear();
    }
    static std::mutex& token_mutex() {
        static std::mutex m;
        return m;
    }
    std::string path_;
    // A token key's engine and session: declared before key_, so released after it.
    std::shared_ptr<void> session_;
    detail::evp_pkey_ptr key_;
    mutable std::once_flag public_once_;
    mutable std::shared_ptr<const public_key> public_;
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
///          `key_dir`/<hint>.pem when it exists, as mkimage reads), or for a
///          `key_dir` that is a pkcs11: URI, mkimage_token_uri(key_dir,
///          hint). The file is not opened.
/// @throws fitstream::error (errc::invalid_argument) when neither is given,
///         or `key_dir` is given without a `key_name_hint`.
inline std::string signature_key_path(const signature_spec& spec, const std::string& subject) {
    if (!spec.key_file.empty()) return spec.key_file;
    // A token as key directory (mkimage -N pkcs11 -k): the hint is the object.
    if (is_token_uri(spec.key_dir)) {
        if (spec.key_name_hint.empty() && spec.key_dir.find("object=") == std::string::npos)
            throw error(errc::invalid_argument, subject, "a token needs a key-name-hint (its object) or object= in -k");
        return mkimage_token_uri(spec.key_dir, spec.key_name_hint);
    }
    if (spec.key_dir.empty())
        throw error(errc::invalid_argument, subject, "no key: give a key file, or a key directory and key-name-hint");
    if (spec.key_name_hint.empty())
        throw error(errc::invalid_argument, subject, "a key directory needs a key-name-hint to find <hint>.key");
    // mkimage -k reads <hint>.key for RSA but <hint>.pem for ECDSA.
    const std::string base = spec.key_dir + "/" + spec.key_name_hint;
    if (spec.algo.find("ecdsa") != std::string::npos && std::ifstream(base + ".pem").good()) return base + ".pem";
    return base + ".key";
}

}  // namespace fitstream
