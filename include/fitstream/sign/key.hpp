// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// Signatures as U-Boot makes and checks them (verified boot): the `algo`
/// names, private keys for signing and public keys for checking (OpenSSL's
/// libcrypto), and the regions of a FIT a configuration signature covers.
///
/// A configuration signature covers the devicetree *structure* of "/", the
/// configuration, and each image the configuration names with its hash-*
/// nodes (their properties and subnode tags; mkimage lists these nodes in
/// `hashed-nodes`, U-Boot works them out itself), minus every `data`,
/// `data-size`, `data-offset` and `data-position` property, plus the first
/// `hashed-strings[1]` bytes of the strings block:
/// U-Boot's fdt_find_regions() (boot/fdt_region.c) decides the regions and
/// find_signed_regions() below reproduces it, quirks included. The payload
/// bytes are covered through the image hashes, so a signature can be made
/// once every hash is known, before the structure is written.
///
/// An image signature covers the image's stored bytes only; fitstream
/// signs the digest its hash node of the same algorithm already holds.
///
/// Key material never appears in a message: errors name the file or node.

#include <fitstream/detail/lib/libfdt.hpp>
#include <fitstream/detail/lib/openssl.hpp>
#include <fitstream/detail/text.hpp>
#include <fitstream/error.hpp>
#include <fitstream/sign/spec.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

/// The algo names fitstream signs with.
inline std::string signature_algorithm_names() {
    return "sha1|sha256|sha384|sha512 , rsa2048|rsa3072|rsa4096|ecdsa256|ecdsa384 (e.g. sha256,rsa2048)";
}

/// Parses `algo`. @throws fitstream::error (errc::unsupported) naming the valid values.
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

/// The `padding` value, or nullptr for the default (the property is omitted).
inline const char* padding_name(signature_padding p) noexcept {
    return p == signature_padding::pss ? "pss" : nullptr;
}

namespace detail {

inline const EVP_MD* checksum_md(const std::string& checksum) {
    if (checksum == "sha1") return EVP_sha1();
    if (checksum == "sha256") return EVP_sha256();
    if (checksum == "sha384") return EVP_sha384();
    if (checksum == "sha512") return EVP_sha512();
    throw error(errc::unsupported, checksum, "unknown signature checksum");
}

/// Reads a file that is small by nature (a key, a control DTB) whole, but
/// at most `limit` bytes: `--key /dev/zero` fails instead of filling memory.
/// @throws fitstream::error: the OS error, or errc::invalid_input past `limit`.
inline std::string read_bounded(const std::string& path, std::size_t limit, const std::string& what) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw_os_error(errno ? errno : ENOENT, path, "cannot read " + what);
    std::string out;
    char buf[65536];
    while (in) {
        in.read(buf, sizeof buf);
        out.append(buf, static_cast<std::size_t>(in.gcount()));
        if (out.size() > limit) {
            OPENSSL_cleanse(out.data(), out.size());
            throw error(errc::invalid_input, path,
                        "larger than " + std::to_string(limit) + " bytes: not a " + what);
        }
    }
    OPENSSL_cleanse(buf, sizeof buf);  // it held key bytes
    if (in.bad()) throw_os_error(EIO, path, "cannot read " + what);
    return out;
}

/// Throws errc::invalid_argument unless `name` can be a key name: U-Boot
/// looks the key up as the node /signature/key-<name>, so it must be a
/// devicetree node-name part (letters, digits, , . _ + -; no '/' or '@').
inline void check_key_name(const std::string& name, const std::string& subject) {
    const bool ok = !name.empty() && bad_node_name_char(name) == std::string::npos;
    if (!ok)
        throw error(errc::invalid_argument, subject,
                    "key name '" + name + "' is not a devicetree node name part (A-Z a-z 0-9 , . _ + -)");
}

/// A byte range of a blob.
struct byte_region {
    std::size_t offset = 0;
    std::size_t size = 0;
};

/// The digest of the concatenated regions of `base`.
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

/// Sets up `ctx` (from EVP_PKEY_sign_init or EVP_PKEY_verify_init) for
/// `algo` and `padding`, as U-Boot's lib/rsa signs and checks.
inline void setup_signature_ctx(EVP_PKEY_CTX* ctx, const signature_algorithm& algo, signature_padding padding,
                                const std::string& subject) {
    if (EVP_PKEY_CTX_set_signature_md(ctx, checksum_md(algo.checksum)) <= 0)
        throw_openssl(subject, "cannot set the signature digest");
    if (!algo.rsa) return;
    if (padding == signature_padding::pss) {
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

/// Big-endian bytes of `n`, left-padded to `size`.
inline std::vector<std::uint8_t> bn_bytes(const BIGNUM* n, std::size_t size, const std::string& subject) {
    std::vector<std::uint8_t> out(size);
    if (BN_bn2binpad(n, out.data(), static_cast<int>(size)) < 0)
        throw error(errc::invalid_input, subject, "number does not fit " + std::to_string(size) + " bytes");
    return out;
}

/// The values U-Boot's rsa_mod_exp_sw() takes from a key node instead of
/// computing them, as mkimage's rsa_add_verify_data() writes them: the
/// modulus's bit count, n0-inverse = -1/n mod 2^32 and r-squared =
/// (2^bits)^2 mod n (big-endian, bits/8 bytes), the Montgomery constants.
struct rsa_key_constants {
    std::uint32_t bits = 0;
    std::uint32_t n0_inverse = 0;
    std::vector<std::uint8_t> r_squared;
};

inline rsa_key_constants rsa_constants_of(const BIGNUM* n, const std::string& subject) {
    rsa_key_constants out;
    out.bits = static_cast<std::uint32_t>(BN_num_bits(n));
    bn_ctx_ptr ctx(BN_CTX_new());
    bignum_ptr two32(BN_new()), inverse(BN_new()), r(BN_new()), r_squared(BN_new());
    if (!ctx || !two32 || !inverse || !r || !r_squared || BN_set_word(two32.get(), 1) != 1 ||
        BN_lshift(two32.get(), two32.get(), 32) != 1 || !BN_mod_inverse(inverse.get(), n, two32.get(), ctx.get()) ||
        BN_sub(inverse.get(), two32.get(), inverse.get()) != 1 || BN_set_word(r.get(), 1) != 1 ||
        BN_lshift(r.get(), r.get(), 2 * static_cast<int>(out.bits)) != 1 ||
        BN_mod(r_squared.get(), r.get(), n, ctx.get()) != 1)
        throw_openssl(subject, "cannot compute the RSA verification constants");
    out.n0_inverse = static_cast<std::uint32_t>(BN_get_word(inverse.get()));
    out.r_squared = bn_bytes(r_squared.get(), out.bits / 8, subject);
    return out;
}

}  // namespace detail

/// A private key to sign with, read from a PEM file (RSA or EC; not
/// password-protected, since signing runs unattended).
class signing_key {
public:
    /// Reads the PEM private key at `path`.
    /// @throws fitstream::error: the OS error when it cannot be read;
    ///         errc::invalid_input (or OpenSSL's) when it is not an
    ///         unencrypted RSA or EC private key. Messages name the file only.
    static std::shared_ptr<const signing_key> load(const std::string& path) {
        // A PEM private key is a few KiB, even RSA-16384.
        std::string pem = detail::read_bounded(path, 1 << 20, "key");
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

    const std::string& path() const noexcept { return path_; }
    bool is_rsa() const { return EVP_PKEY_is_a(key_.get(), "RSA") == 1; }
    bool is_ec() const { return EVP_PKEY_is_a(key_.get(), "EC") == 1; }
    unsigned bits() const { return static_cast<unsigned>(EVP_PKEY_get_bits(key_.get())); }
    /// EC: the curve's short name ("prime256v1"); empty for RSA.
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

    /// Throws errc::invalid_argument unless this key can make `algo`'s signatures.
    void check_for(const signature_algorithm& algo, signature_padding padding) const {
        const bool fits = algo.rsa ? is_rsa() && bits() == algo.key_bits : is_ec() && curve() == algo.curve;
        if (!fits)
            throw error(errc::invalid_argument, path_,
                        "key is " + describe() + ", but " + algo.name + " needs " +
                            (algo.rsa ? "RSA-" + std::to_string(algo.key_bits) : "EC " + algo.curve));
        if (!algo.rsa && padding == signature_padding::pss)
            throw error(errc::invalid_argument, algo.name, "PSS padding applies to RSA only");
    }

    /// Signs `digest` (made with `algo.checksum`) as U-Boot expects the
    /// `value`: RSA as the raw signature, ECDSA as r then s, each padded.
    std::vector<std::uint8_t> sign_digest(const signature_algorithm& algo, signature_padding padding,
                                          const std::vector<std::uint8_t>& digest) const {
        check_for(algo, padding);
        ERR_clear_error();  // an error queued earlier must not be taken for this one's
        detail::evp_pkey_ctx_ptr ctx(EVP_PKEY_CTX_new(key_.get(), nullptr));
        if (!ctx || EVP_PKEY_sign_init(ctx.get()) <= 0) detail::throw_openssl(path_, "cannot start signing");
        detail::setup_signature_ctx(ctx.get(), algo, padding, path_);
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

/// Where a signature's key comes from: `key_file`, else `key_dir`/<hint>.key
/// (for ECDSA `key_dir`/<hint>.pem when it exists, as mkimage reads).
/// @throws fitstream::error (errc::invalid_argument) when neither is given.
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
    /// The public half of `key`.
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

    /// Reads the key node at `node` of `fdt` (rsa,modulus + rsa,exponent,
    /// or ecdsa,curve + ecdsa,x-point + ecdsa,y-point).
    /// @throws fitstream::error (errc::invalid_input) naming `subject`.
    static public_key from_fdt(const void* fdt, int node, const std::string& subject) {
        public_key out;
        out.name_ = subject;
        ERR_clear_error();  // an error queued earlier must not be taken for this one's
        int len = 0;
        const auto bytes = [&](const char* prop) -> std::pair<const unsigned char*, int> {
            const auto* p = static_cast<const unsigned char*>(fdt_getprop(fdt, node, prop, &len));
            return {p, p ? len : 0};
        };
        detail::param_bld_ptr bld(OSSL_PARAM_BLD_new());
        if (!bld) detail::throw_openssl(subject, "out of memory");
        const char* type = nullptr;
        detail::bignum_ptr n, e;
        std::vector<unsigned char> point;
        std::string curve;
        if (const auto [mod, mod_len] = bytes("rsa,modulus"); mod) {
            type = "RSA";
            out.rsa_ = true;
            n.reset(BN_bin2bn(mod, mod_len, nullptr));
            if (!n) detail::throw_openssl(subject, "cannot read rsa,modulus");
            // U-Boot checks with rsa,num-bits, rsa,n0-inverse and
            // rsa,r-squared, not with the modulus alone: when one is missing
            // or does not belong to the modulus, every signature fails there.
            const auto constants = detail::rsa_constants_of(n.get(), subject);
            const auto u32 = [&](const char* prop) -> std::optional<std::uint32_t> {
                const auto [p, p_len] = bytes(prop);
                if (!p || p_len != 4) return std::nullopt;
                return static_cast<std::uint32_t>(p[0]) << 24 | static_cast<std::uint32_t>(p[1]) << 16 |
                       static_cast<std::uint32_t>(p[2]) << 8 | p[3];
            };
            const auto broken = [&](const std::string& what) {
                return error(errc::invalid_input, subject,
                             what + ", so U-Boot fails every signature with this key");
            };
            const auto bits = u32("rsa,num-bits");
            if (!bits) throw broken("no 32-bit rsa,num-bits");
            if (*bits != constants.bits || static_cast<std::size_t>(mod_len) * 8 != *bits)
                throw broken("rsa,num-bits (" + std::to_string(*bits) + ") does not match the " +
                             std::to_string(mod_len) + "-byte rsa,modulus of " + std::to_string(constants.bits) +
                             " bits");
            const auto n0 = u32("rsa,n0-inverse");
            if (!n0 || *n0 != constants.n0_inverse) throw broken("rsa,n0-inverse is missing or wrong for rsa,modulus");
            const auto [rr, rr_len] = bytes("rsa,r-squared");
            if (!rr || static_cast<std::size_t>(rr_len) != constants.r_squared.size() ||
                !std::equal(constants.r_squared.begin(), constants.r_squared.end(), rr))
                throw broken("rsa,r-squared is missing or wrong for rsa,modulus");
            std::uint64_t exponent = 65537;  // U-Boot's default when rsa,exponent is absent
            if (const auto [exp, exp_len] = bytes("rsa,exponent"); exp) {
                if (exp_len != 8) throw error(errc::invalid_input, subject, "rsa,exponent is not 64 bits");
                exponent = 0;
                for (int i = 0; i < 8; ++i) exponent = exponent << 8 | exp[i];
            }
            e.reset(BN_new());
            if (!e || BN_set_word(e.get(), exponent) != 1 ||
                OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
                OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1)
                detail::throw_openssl(subject, "cannot build the RSA key");
        } else if (const auto* c = static_cast<const char*>(fdt_getprop(fdt, node, "ecdsa,curve", &len));
                   c && len > 0 && c[len - 1] == '\0') {
            type = "EC";
            out.rsa_ = false;
            curve = c;
            const auto [x, x_len] = bytes("ecdsa,x-point");
            const auto [y, y_len] = bytes("ecdsa,y-point");
            if (!x || !y || x_len != y_len) throw error(errc::invalid_input, subject, "incomplete ECDSA key");
            point.push_back(0x04);  // uncompressed point: 04 || x || y
            point.insert(point.end(), x, x + x_len);
            point.insert(point.end(), y, y + y_len);
            if (OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve.c_str(), 0) != 1 ||
                OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1)
                detail::throw_openssl(subject, "cannot build the ECDSA key");
        } else {
            throw error(errc::invalid_input, subject, "no rsa,modulus or ecdsa,curve: not a key U-Boot can use");
        }
        detail::params_ptr params(OSSL_PARAM_BLD_to_param(bld.get()));
        detail::evp_pkey_ctx_ptr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
        EVP_PKEY* raw = nullptr;
        if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
            EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0 || !raw)
            detail::throw_openssl(subject, "not a valid public key");
        out.key_.reset(raw);
        return out;
    }

    bool is_rsa() const noexcept { return rsa_; }
    unsigned bits() const { return static_cast<unsigned>(EVP_PKEY_get_bits(key_.get())); }
    EVP_PKEY* get() const noexcept { return key_.get(); }
    /// True when both hold the same public key.
    bool same_as(const public_key& other) const { return EVP_PKEY_eq(key_.get(), other.key_.get()) == 1; }

    /// Checks `signature` (U-Boot's encoding) over `digest`. Returns false
    /// for a signature that does not verify; throws only on a setup failure.
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
        detail::setup_signature_ctx(ctx.get(), algo, padding, name_);
        const int rc = EVP_PKEY_verify(ctx.get(), encoded.data(), encoded.size(), digest.data(), digest.size());
        ERR_clear_error();
        return rc == 1;
    }

private:
    detail::evp_pkey_ptr key_;
    bool rsa_ = true;
    std::string name_;
};

namespace detail {

/// Property names a configuration signature never covers (U-Boot's
/// exc_prop in fit_config_check_sig): the image hashes cover the data.
inline bool excluded_from_signature(std::string_view name) {
    return name == "data" || name == "data-size" || name == "data-position" || name == "data-offset";
}

/// U-Boot's CONFIG_FIT_SIGNATURE_MAX_SIZE, as configured by default: its
/// fit_image_setup_verify() (boot/image-fit-sig.c) refuses to check any
/// signature, image or configuration, of a FIT whose FDT totalsize is
/// larger ("Total size too large"). With embedded data that is the whole FIT.
inline constexpr std::uint64_t max_signed_fit_size = 0x10000000;  // 256 MiB

/// Throws errc::invalid_argument, naming `subject`, when U-Boot would not
/// check the signatures of a FIT whose FDT totalsize is `totalsize`.
inline void check_signed_fit_size(std::uint64_t totalsize, const std::string& subject) {
    if (totalsize > max_signed_fit_size)
        throw error(errc::invalid_argument, subject,
                    "FIT structure of " + std::to_string(totalsize) + " bytes: U-Boot checks no signature of a FIT "
                    "over " + std::to_string(max_signed_fit_size) + " bytes (FIT_SIGNATURE_MAX_SIZE; external data "
                    "keeps the structure small)");
}

/// U-Boot's limits in fit_config_check_sig and fdt_find_regions.
inline constexpr std::size_t max_hashed_nodes = 100;
inline constexpr std::size_t max_region_path = 200;
inline constexpr int max_region_depth = 32;

/// The structure regions U-Boot's fdt_find_regions() returns for the
/// nodes `include` (full paths), excluding the data properties, as byte
/// ranges from the start of `fdt`; the strings region is not among them.
/// Reproduces its rules exactly: an included node brings its properties,
/// its subnodes' begin and end tags (not their properties) and, where a
/// region closes on an end tag of a node not included, that end tag too.
/// @throws fitstream::error (errc::bad_image) where U-Boot would fail.
inline std::vector<byte_region> find_signed_regions(const void* fdt, const std::vector<std::string>& include,
                                                    const std::string& subject) {
    const auto fail = [&](const std::string& why) { return error(errc::bad_image, subject, why); };
    const auto listed = [&](const std::string& path) {
        return std::find(include.begin(), include.end(), path) != include.end();
    };
    const int base = static_cast<int>(fdt_off_dt_struct(fdt));
    std::vector<byte_region> regions;
    std::vector<int> want_stack;
    std::vector<std::size_t> path_lengths;
    std::string path;
    int next = 0, start = -1, want = 0;
    bool expect_end = false;
    std::uint32_t tag = 0;
    do {
        const int offset = next;
        tag = fdt_next_tag(fdt, offset, &next);
        if (next < 0) throw fail("corrupt structure block");
        int stop_at = next;
        int include_tag = 0;
        if (expect_end && tag != FDT_END) throw fail("a second root node");
        switch (tag) {
            case FDT_PROP: {
                include_tag = want >= 2;
                stop_at = offset;
                int len = 0;
                const struct fdt_property* prop = fdt_get_property_by_offset(fdt, offset, &len);
                const char* name = prop ? fdt_string(fdt, static_cast<int>(fdt32_to_cpu(prop->nameoff))) : nullptr;
                if (!name) throw fail("property without a name");
                if (excluded_from_signature(name)) include_tag = 0;
                break;
            }
            case FDT_NOP:
                include_tag = want >= 2;
                stop_at = offset;
                break;
            case FDT_BEGIN_NODE: {
                // U-Boot's depth counts from 0 at the root and fails on reaching 32.
                const int depth = static_cast<int>(want_stack.size());
                if (depth >= max_region_depth) throw fail("nodes nested too deeply for U-Boot");
                int len = 0;
                const char* name = fdt_get_name(fdt, offset, &len);
                if (!name) throw fail("node without a name");
                if (depth == 0 && len != 0) throw fail("root node has a name");
                if (path.size() + 2 + static_cast<std::size_t>(len) >= max_region_path)
                    throw fail("node path longer than U-Boot's 200-byte limit");
                path_lengths.push_back(path.size());
                if (path.size() != 1) path += '/';
                path.append(name, static_cast<std::size_t>(len));
                want_stack.push_back(want);
                if (want == 1) stop_at = offset;
                if (listed(path))
                    want = 2;
                else if (want)
                    --want;
                else
                    stop_at = offset;
                include_tag = want;
                break;
            }
            case FDT_END_NODE:
                if (want_stack.empty()) throw fail("unbalanced end of node");
                include_tag = want;
                want = want_stack.back();
                want_stack.pop_back();
                path.resize(path_lengths.back());
                path_lengths.pop_back();
                if (want_stack.empty()) expect_end = true;
                break;
            case FDT_END:
                include_tag = 1;
                break;
            default:
                throw fail("unknown structure tag");
        }
        if (include_tag && start == -1) {
            // Continue the previous region when this one starts where it ended.
            if (!regions.empty() &&
                static_cast<std::size_t>(base + offset) == regions.back().offset + regions.back().size) {
                start = static_cast<int>(regions.back().offset) - base;
                regions.pop_back();
            } else {
                start = offset;
            }
        }
        if (!include_tag && start != -1) {
            regions.push_back({static_cast<std::size_t>(base + start), static_cast<std::size_t>(stop_at - start)});
            start = -1;
        }
    } while (tag != FDT_END);
    if (next != static_cast<int>(fdt_size_dt_struct(fdt))) throw fail("structure block size does not match its end");
    regions.push_back({static_cast<std::size_t>(base + start), static_cast<std::size_t>(next - start)});
    // U-Boot's region array: 20 + 7 per node, one kept back for the strings.
    if (regions.size() >= 20 + 7 * include.size() - 1) throw fail("too many hash regions for U-Boot");
    return regions;
}

/// The `hashed-nodes` of a configuration signature, as mkimage lists them
/// (tools/image-host.c, fit_config_get_hash_list): "/", the configuration,
/// then for each `sign-images` property, each image it names followed by
/// that image's hash-* subnodes.
struct hashed_image {
    std::string name;                 ///< image node name
    std::vector<std::string> hashes;  ///< its hash-* subnode names, in order
};
inline std::vector<std::string> hashed_node_list(const std::string& configuration,
                                                 const std::vector<hashed_image>& images) {
    std::vector<std::string> nodes{"/", "/configurations/" + configuration};
    for (const auto& img : images) {
        nodes.push_back("/images/" + img.name);
        for (const auto& h : img.hashes) nodes.push_back("/images/" + img.name + "/" + h);
    }
    return nodes;
}

/// Joins strings as a devicetree string list (each NUL-terminated).
inline std::string string_list(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& s : items) {
        out += s;
        out += '\0';
    }
    return out;
}

}  // namespace detail
}  // namespace fitstream
