// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// Public keys in U-Boot's control DTB, as `mkimage -K` writes them: a
/// `/signature/key-<name>` node that U-Boot checks FIT signatures with.
///
///  - RSA: `rsa,num-bits`, `rsa,modulus` and `rsa,r-squared` (big-endian,
///    num-bits long), `rsa,n0-inverse` (-1/n mod 2^32), `rsa,exponent`
///    (64 bits), as lib/rsa/rsa-sign.c rsa_add_verify_data();
///  - ECDSA: `ecdsa,curve` ("prime256v1", "secp384r1"), `ecdsa,x-point`,
///    `ecdsa,y-point` (big-endian, the curve's size);
///  - both: `key-name-hint`, `algo`, and `required` ("conf" or "image")
///    when U-Boot must refuse what this key does not verify.
///
/// @code
/// fitstream::key_dtb dtb("u-boot.dtb");
/// dtb.add({fitstream::signing_key::load("keys/dev.key"), "dev", "sha256,rsa2048", "conf"});
/// dtb.save();   // temporary file + rename: all or nothing
/// @endcode

#include <fitstream/detail/io/file.hpp>
#include <fitstream/detail/lib/libfdt.hpp>
#include <fitstream/detail/lib/openssl.hpp>
#include <fitstream/detail/read/node_path.hpp>
#include <fitstream/detail/read/properties.hpp>
#include <fitstream/detail/sign/key_node.hpp>
#include <fitstream/error.hpp>
#include <fitstream/sign/algorithm.hpp>
#include <fitstream/sign/cipher.hpp>
#include <fitstream/sign/key.hpp>
#include <fitstream/sink.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace fitstream {

/// One key to put into a control DTB.
struct key_dtb_entry {
    std::shared_ptr<const signer> key;  ///< its public_half() goes into the DTB
    std::string name;      ///< key-name-hint: the node is /signature/key-<name>
    std::string algo;      ///< e.g. "sha256,rsa2048"
    std::string required;  ///< "conf", "image", or empty (U-Boot then does not insist)
};

/// One key found in a control DTB's /signature node.
struct key_dtb_key {
    std::string node;       ///< "/signature/key-dev"
    std::string name;       ///< key-name-hint, else the node name without "key-"
    std::string algo;       ///< may be empty (mkimage 2023.01 writes none for ECDSA)
    std::string required;   ///< "conf", "image" or empty
    std::shared_ptr<const public_key> key;
};

/// A control DTB read into memory, to read keys from or add keys to.
class key_dtb {
public:
    /// Reads and checks the DTB at `path` (a regular file or a pipe, at
    /// most 64 MiB: a control DTB is KiBs).
    /// @throws fitstream::error naming `path`: the OS error "cannot read
    ///         DTB"; errc::invalid_input "larger than 67108864 bytes: not a
    ///         DTB" or "not a valid DTB (empty file)"; libfdt's error "not a
    ///         valid DTB" when fdt_check_full refuses it.
    explicit key_dtb(std::string path) : path_(std::move(path)) {
        const std::string bytes = detail::read_file_bounded(path_, std::uint64_t(64) << 20, "DTB",
                                                            detail::stream_inputs::accepted);
        if (bytes.empty()) throw error(errc::invalid_input, path_, "not a valid DTB (empty file)");
        blob_.assign((bytes.size() + 7) / 8, 0);
        std::memcpy(blob_.data(), bytes.data(), bytes.size());
        const int rc = detail::check_fdt(blob_.data(), bytes.size());
        if (rc < 0) throw error(std::error_code(rc, libfdt_category()), path_, "not a valid DTB");
    }

    /// The file the DTB was read from, and is saved to by save().
    const std::string& path() const noexcept { return path_; }
    /// The DTB as it is in memory (8-byte aligned), with the keys add()ed.
    const void* blob() const noexcept { return blob_.data(); }

    /// Every subnode of /signature, each read as a key (see
    /// public_key::from_fdt()); empty when there is no /signature.
    /// @throws fitstream::error as public_key::from_fdt(), naming the file
    ///         and node, for a subnode that is not a usable key.
    std::vector<key_dtb_key> keys() const {
        std::vector<key_dtb_key> out;
        const int parent = fdt_subnode_offset(blob(), 0, "signature");
        if (parent < 0) return out;
        int node = 0;
        fdt_for_each_subnode(node, blob(), parent) {
            int len = 0;
            const char* name = fdt_get_name(blob(), node, &len);
            key_dtb_key k;
            k.node = "/signature/" + std::string(name ? name : "", name ? static_cast<std::size_t>(len) : 0);
            k.name = string_prop(node, "key-name-hint");
            if (k.name.empty()) {
                k.name = k.node.substr(std::string("/signature/").size());
                if (k.name.compare(0, 4, "key-") == 0) k.name.erase(0, 4);
            }
            k.algo = string_prop(node, "algo");
            k.required = string_prop(node, "required");
            k.key = std::make_shared<const public_key>(
                public_key::from_fdt(blob(), node, path_ + ": " + detail::shown_name(k.node)));
            out.push_back(std::move(k));
        }
        return out;
    }

    /// /signature `required-mode` as written: "all" when absent (U-Boot's
    /// default), else the value ("any" means one required key suffices).
    std::string required_mode() const {
        const int parent = fdt_subnode_offset(blob(), 0, "signature");
        const std::string mode = parent < 0 ? std::string() : string_prop(parent, "required-mode");
        return mode.empty() ? "all" : mode;
    }

    /// Sets /signature `required-mode` in memory (adding /signature if
    /// needed); save() writes the file. "all": every key marked required
    /// must verify a configuration (U-Boot's default); "any": one of them
    /// suffices, which lets U-Boot hold an old and a new key while FITs are
    /// re-signed (key rotation). Debian 12's U-Boot 2023.01 reads it.
    /// @throws fitstream::error: errc::invalid_argument for a mode other than
    ///         "any" or "all"; libfdt's error when the DTB cannot take it.
    void set_required_mode(const std::string& mode) {
        if (mode != "any" && mode != "all")
            throw error(errc::invalid_argument, path_, "required-mode must be any or all, not '" + mode + "'");
        grow(64);
        void* b = blob_.data();
        int parent = fdt_subnode_offset(b, 0, "signature");
        if (parent == -FDT_ERR_NOTFOUND) parent = fdt(fdt_add_subnode(b, 0, "signature"), "cannot add /signature");
        fdt(parent, "/signature");
        fdt(fdt_setprop_string(b, parent, "required-mode", mode.c_str()), "cannot set required-mode");
        fdt(fdt_pack(b), "cannot pack DTB");
    }

    /// Checks that `entry` can be added, changing nothing: it has a key, a
    /// name that can be a node name, an algo its key suits (an RSA exponent
    /// U-Boot can hold), `required` empty, "conf" or "image", and a key
    /// node of the same name, if there is one, holds the same public key
    /// (replacing a different key silently would lock out every image
    /// signed with the old one).
    /// @throws fitstream::error: errc::invalid_argument for each refusal
    ///         above; errc::unsupported for an unknown algo or an exponent
    ///         over 64 bits; as public_key::from_fdt() for a present node
    ///         that is not a usable key.
    void check(const key_dtb_entry& entry) const {
        if (!entry.key) throw error(errc::invalid_argument, path_, "no key given");
        detail::check_key_name(entry.name, path_);
        const auto algo = parse_signature_algorithm(entry.algo);
        entry.key->check_for(algo, signature_padding::pkcs1_5);
        const auto pub = public_of(entry);
        if (algo.rsa) {
            BIGNUM* e_raw = nullptr;
            if (EVP_PKEY_get_bn_param(pub->get(), OSSL_PKEY_PARAM_RSA_E, &e_raw) != 1)
                detail::throw_openssl(entry.key->name(), "cannot read the RSA public key");
            const detail::bignum_ptr e(e_raw);
            (void)exponent_bytes(e.get(), entry.key->name());
        }
        if (entry.required != "" && entry.required != "conf" && entry.required != "image")
            throw error(errc::invalid_argument, entry.required, "required must be conf or image");
        const int parent = fdt_subnode_offset(blob(), 0, "signature");
        if (parent < 0) return;
        const int node = fdt_subnode_offset(blob(), parent, ("key-" + entry.name).c_str());
        if (node < 0) return;
        const auto present = public_key::from_fdt(blob(), node, path_ + ": /signature/key-" + entry.name);
        if (!present.same_as(*pub))
            throw error(errc::invalid_argument, path_,
                        "/signature/key-" + entry.name + " holds a different public key than " + entry.key->name());
    }

    /// Adds `/signature/key-<name>` in memory (or rewrites the node of the
    /// same key), as `mkimage -K` writes it; save() writes the file.
    /// @throws fitstream::error: as check(); libfdt's error when the DTB
    ///         cannot take the node; OpenSSL's when the key cannot be read.
    void add(const key_dtb_entry& entry) {
        check(entry);
        ERR_clear_error();  // an error queued earlier must not be taken for this one's
        const auto algo = parse_signature_algorithm(entry.algo);
        // Room for the node: the biggest key (RSA-4096) needs about 1.1 KiB.
        grow(4096);
        void* b = blob_.data();
        int parent = fdt_subnode_offset(b, 0, "signature");
        if (parent == -FDT_ERR_NOTFOUND) parent = fdt(fdt_add_subnode(b, 0, "signature"), "cannot add /signature");
        fdt(parent, "/signature");
        const std::string node_name = "key-" + entry.name;
        int node = fdt_subnode_offset(b, parent, node_name.c_str());
        if (node == -FDT_ERR_NOTFOUND) node = fdt_add_subnode(b, parent, node_name.c_str());
        fdt(node, "cannot add /signature/" + node_name);

        const auto set = [&](const char* prop, const void* value, std::size_t len) {
            fdt(fdt_setprop(b, node, prop, value, static_cast<int>(len)), std::string("cannot set ") + prop);
        };
        const auto set_string = [&](const char* prop, const std::string& value) {
            set(prop, value.c_str(), value.size() + 1);
        };
        const auto set_u32 = [&](const char* prop, std::uint32_t v) {
            std::uint8_t be[4];
            fdt32_st(be, v);
            set(prop, be, 4);
        };
        set_string("key-name-hint", entry.name);
        const auto pub = public_of(entry);
        EVP_PKEY* pkey = pub->get();
        const std::string& subject = entry.key->name();
        if (algo.rsa) {
            BIGNUM *n_raw = nullptr, *e_raw = nullptr;
            if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n_raw) != 1 ||
                EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e_raw) != 1) {
                BN_free(n_raw);
                detail::throw_openssl(subject, "cannot read the RSA public key");
            }
            detail::bignum_ptr n(n_raw), e(e_raw);
            const auto constants = detail::rsa_constants_of(n.get(), subject);
            set_u32("rsa,num-bits", constants.bits);
            set_u32("rsa,n0-inverse", constants.n0_inverse);
            const auto exponent = exponent_bytes(e.get(), subject);
            set("rsa,exponent", exponent.data(), exponent.size());
            const auto modulus = detail::bn_bytes(n.get(), constants.bits / 8, subject);
            const auto& rr = constants.r_squared;
            set("rsa,modulus", modulus.data(), modulus.size());
            set("rsa,r-squared", rr.data(), rr.size());
        } else {
            BIGNUM *x_raw = nullptr, *y_raw = nullptr;
            if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x_raw) != 1 ||
                EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y_raw) != 1) {
                BN_free(x_raw);
                detail::throw_openssl(subject, "cannot read the EC public key");
            }
            detail::bignum_ptr x(x_raw), y(y_raw);
            const auto x_bytes = detail::bn_bytes(x.get(), algo.key_bits / 8, subject);
            const auto y_bytes = detail::bn_bytes(y.get(), algo.key_bits / 8, subject);
            set_string("ecdsa,curve", algo.curve);
            set("ecdsa,x-point", x_bytes.data(), x_bytes.size());
            set("ecdsa,y-point", y_bytes.data(), y_bytes.size());
        }
        set_string("algo", entry.algo);
        if (!entry.required.empty()) set_string("required", entry.required);
        fdt(fdt_pack(b), "cannot pack DTB");
    }

    /// Adds `/cipher/key-<algo>-<key name>[-<IV name>]` in memory (or
    /// rewrites it), as `mkimage -K` writes an image's cipher key
    /// (lib/aes/aes-encrypt.c): `iv` when the IV is named (a random IV goes
    /// into the FIT instead), `key`, `key-len`. U-Boot decrypts with it.
    /// This is the secret key itself: the DTB must stay as private as it.
    /// @throws fitstream::error: libfdt's error when the DTB cannot take it.
    void add_cipher(const cipher_key& key) {
        const std::size_t size = fdt_totalsize(blob()) + 1024;
        std::vector<std::uint64_t> bigger((size + 7) / 8);
        fdt(fdt_open_into(blob(), bigger.data(), static_cast<int>(size)), "cannot open DTB for writing");
        blob_.swap(bigger);
        void* b = blob_.data();
        int parent = fdt_subnode_offset(b, 0, "cipher");
        if (parent == -FDT_ERR_NOTFOUND) parent = fdt(fdt_add_subnode(b, 0, "cipher"), "cannot add /cipher");
        fdt(parent, "/cipher");
        const std::string node_name = key.dtb_node_name();
        int node = fdt_subnode_offset(b, parent, node_name.c_str());
        if (node == -FDT_ERR_NOTFOUND) node = fdt_add_subnode(b, parent, node_name.c_str());
        fdt(node, "cannot add /cipher/" + node_name);
        if (!key.iv_in_fit())
            fdt(fdt_setprop(b, node, "iv", key.iv().data(), static_cast<int>(key.iv().size())), "cannot set iv");
        fdt(fdt_setprop(b, node, "key", key.key().data(), static_cast<int>(key.key().size())), "cannot set key");
        fdt(fdt_setprop_u32(b, node, "key-len", static_cast<std::uint32_t>(key.key().size())), "cannot set key-len");
        fdt(fdt_pack(b), "cannot pack DTB");
    }

    /// Writes the DTB back to its path, atomically (temporary file + rename).
    /// @throws fitstream::error (OS category) when it cannot be written; the
    ///         file is then unchanged.
    void save() const { save_as(path_); }

    /// Writes the DTB to `path`, atomically.
    /// @throws fitstream::error (OS category) when it cannot be written.
    void save_as(const std::string& path) const {
        const auto out = stage(path);
        out->commit(fdt_totalsize(blob()));
    }

    /// Writes the DTB to a temporary file beside `path` (default: its own
    /// path) and returns the sink uncommitted: commit(fdt_totalsize(blob()))
    /// renames it into place, destroying it uncommitted removes it. Lets a
    /// caller fail on an unwritable DTB before it commits anything else.
    /// @throws fitstream::error (OS category) when it cannot be written.
    std::unique_ptr<file_sink> stage(const std::string& path = {}) const {
        auto out = std::make_unique<file_sink>(path.empty() ? path_ : path);
        out->write_at(0, blob(), fdt_totalsize(blob()));
        return out;
    }

private:
    /// rsa,exponent: U-Boot holds the public exponent in 64 bits.
    // The public key of `entry`, or an error when its signer has none to give.
    static std::shared_ptr<const public_key> public_of(const key_dtb_entry& entry) {
        auto pub = entry.key->public_half();
        if (!pub) throw error(errc::invalid_argument, entry.key->name(), "has no public key to put into a DTB");
        return pub;
    }

    // Opens the DTB into a buffer `room` bytes larger, for writing.
    void grow(std::size_t room) {
        const std::size_t size = fdt_totalsize(blob()) + room;
        std::vector<std::uint64_t> bigger((size + 7) / 8);
        fdt(fdt_open_into(blob(), bigger.data(), static_cast<int>(size)), "cannot open DTB for writing");
        blob_.swap(bigger);
    }

    static std::vector<std::uint8_t> exponent_bytes(const BIGNUM* e, const std::string& subject) {
        if (BN_num_bits(e) > 64)
            throw error(errc::unsupported, subject,
                        "RSA public exponent has " + std::to_string(BN_num_bits(e)) +
                            " bits; U-Boot's rsa,exponent holds 64");
        return detail::bn_bytes(e, 8, subject);
    }
    int fdt(int rc, const std::string& what) const {
        return detail::fdt_check(rc, path_, what.c_str());
    }
    std::string string_prop(int node, const char* name) const { return detail::fdt_string_prop(blob(), node, name); }

    std::string path_;
    std::vector<std::uint64_t> blob_;  // 8-byte aligned, as libfdt wants
};

/// Adds every entry to the DTB at `path` and writes it back atomically:
/// all keys are checked first, so on any error the file is unchanged.
/// @throws fitstream::error as key_dtb's constructor, check(), add() and
///         save().
inline void add_keys_to_dtb(const std::string& path, const std::vector<key_dtb_entry>& entries) {
    key_dtb dtb(path);
    for (const auto& e : entries) dtb.check(e);
    for (const auto& e : entries) dtb.add(e);
    dtb.save();
}

}  // namespace fitstream
