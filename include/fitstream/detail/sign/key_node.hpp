// SPDX-License-Identifier: MIT
#pragma once

// A public key as U-Boot's control DTB holds it, in a /signature/key-<name>
// node: the RSA constants mkimage computes for it, and reading such a node
// back into an OpenSSL key. <fitstream/sign/key_dtb.hpp> writes the nodes.

#include <fitstream/detail/lib/libfdt.hpp>
#include <fitstream/detail/lib/openssl.hpp>
#include <fitstream/detail/read/properties.hpp>
#include <fitstream/error.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace fitstream {
namespace detail {

// The values U-Boot's rsa_mod_exp_sw() takes from a key node instead of
// computing them, as mkimage's rsa_add_verify_data() writes them: the
// modulus's bit count, n0-inverse = -1/n mod 2^32 and r-squared =
// (2^bits)^2 mod n (big-endian, bits/8 bytes), the Montgomery constants.
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

// U-Boot's RSA_MAX_KEY_BITS (include/u-boot/rsa.h): the largest modulus
// its verifier takes.
inline constexpr std::uint32_t max_rsa_bits = 4096;

// A public key read from a key node.
struct key_node_key {
    evp_pkey_ptr key;
    bool rsa = true;
};

// Reads the key node at `node` of `fdt`: rsa,modulus (with rsa,num-bits,
// rsa,n0-inverse, rsa,r-squared and rsa,exponent, default 65537), or
// ecdsa,curve with ecdsa,x-point and ecdsa,y-point. An RSA node whose
// constants do not belong to its modulus is refused: U-Boot checks with the
// constants, so every signature would fail there.
// Throws errc::invalid_input (or OpenSSL's error) naming `subject`.
inline key_node_key read_key_node(const void* fdt, int node, const std::string& subject) {
    key_node_key out;
    ERR_clear_error();  // an error queued earlier must not be taken for this one's
    const auto bytes = [&](const char* prop) -> std::pair<const unsigned char*, int> {
        int len = 0;
        const auto* p = static_cast<const unsigned char*>(fdt_getprop(fdt, node, prop, &len));
        return {p, p ? len : 0};
    };
    param_bld_ptr bld(OSSL_PARAM_BLD_new());
    if (!bld) throw_openssl(subject, "out of memory");
    const char* type = nullptr;
    bignum_ptr n, e;
    std::vector<unsigned char> point;
    std::string curve;
    int curve_len = 0;
    if (const auto [mod, mod_len] = bytes("rsa,modulus"); mod) {
        type = "RSA";
        out.rsa = true;
        const auto broken = [&](const std::string& what) {
            return error(errc::invalid_input, subject, what + ", so U-Boot fails every signature with this key");
        };
        // Sizes first: the constants below cost time that grows with the
        // square of the modulus, and a key DTB is not to be trusted with that.
        const auto bits = fdt_u32_prop(fdt, node, "rsa,num-bits");
        if (!bits) throw broken("no 32-bit rsa,num-bits");
        if (*bits == 0 || *bits > max_rsa_bits)
            throw broken("rsa,num-bits is " + std::to_string(*bits) + ", outside U-Boot's 1.." +
                         std::to_string(max_rsa_bits) + " (RSA_MAX_KEY_BITS)");
        if (static_cast<std::size_t>(mod_len) * 8 != *bits)
            throw broken("rsa,num-bits (" + std::to_string(*bits) + ") does not match the " + std::to_string(mod_len) +
                         "-byte rsa,modulus of " + std::to_string(static_cast<std::size_t>(mod_len) * 8) + " bits");
        n.reset(BN_bin2bn(mod, mod_len, nullptr));
        if (!n) throw_openssl(subject, "cannot read rsa,modulus");
        const auto constants = rsa_constants_of(n.get(), subject);
        if (*bits != constants.bits)
            throw broken("rsa,num-bits (" + std::to_string(*bits) + ") does not match the " +
                         std::to_string(mod_len) + "-byte rsa,modulus of " + std::to_string(constants.bits) +
                         " bits");
        const auto n0 = fdt_u32_prop(fdt, node, "rsa,n0-inverse");
        if (!n0 || *n0 != constants.n0_inverse) throw broken("rsa,n0-inverse is missing or wrong for rsa,modulus");
        const auto [rr, rr_len] = bytes("rsa,r-squared");
        if (!rr || static_cast<std::size_t>(rr_len) != constants.r_squared.size() ||
            !std::equal(constants.r_squared.begin(), constants.r_squared.end(), rr))
            throw broken("rsa,r-squared is missing or wrong for rsa,modulus");
        std::uint64_t exponent = 65537;  // U-Boot's default when rsa,exponent is absent
        if (const auto [exp, exp_len] = bytes("rsa,exponent"); exp) {
            if (exp_len != 8) throw error(errc::invalid_input, subject, "rsa,exponent is not 64 bits");
            exponent = fdt64_ld(reinterpret_cast<const fdt64_t*>(exp));
        }
        e.reset(BN_new());
        if (!e || BN_set_word(e.get(), exponent) != 1 ||
            OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
            OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1)
            throw_openssl(subject, "cannot build the RSA key");
    } else if (const auto* c = static_cast<const char*>(fdt_getprop(fdt, node, "ecdsa,curve", &curve_len));
               c && curve_len > 0 && c[curve_len - 1] == '\0') {
        type = "EC";
        out.rsa = false;
        curve = c;
        const auto [x, x_len] = bytes("ecdsa,x-point");
        const auto [y, y_len] = bytes("ecdsa,y-point");
        if (!x || !y || x_len != y_len) throw error(errc::invalid_input, subject, "incomplete ECDSA key");
        if (x_len > 66) throw error(errc::invalid_input, subject, "ECDSA point longer than any curve's (66 bytes)");
        point.push_back(0x04);  // uncompressed point: 04 || x || y
        point.insert(point.end(), x, x + x_len);
        point.insert(point.end(), y, y + y_len);
        if (OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve.c_str(), 0) != 1 ||
            OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1)
            throw_openssl(subject, "cannot build the ECDSA key");
    } else {
        throw error(errc::invalid_input, subject, "no rsa,modulus or ecdsa,curve: not a key U-Boot can use");
    }
    params_ptr params(OSSL_PARAM_BLD_to_param(bld.get()));
    evp_pkey_ctx_ptr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
    EVP_PKEY* raw = nullptr;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
        EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0 || !raw)
        throw_openssl(subject, "not a valid public key");
    out.key.reset(raw);
    return out;
}

}  // namespace detail
}  // namespace fitstream
